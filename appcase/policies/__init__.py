"""Policies as code: small, pure, typed rules parameterised by the campaign file.

* :mod:`appcase.policies.disposition` -- "interview some, take down some" (约谈整改一批、关停下架一批);
* :mod:`appcase.policies.deadlines` -- phase windows and rectification deadlines;
* :mod:`appcase.policies.permissions` -- who may do what, where.

Policies import neither the database nor the command line.
"""
