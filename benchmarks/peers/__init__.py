"""Peer engines running appcase's lifecycle on SQLite, for the ratio benchmarks (item 8).

Every peer runs the same six commands per case (survey, flag, judge, interview, pledge,
rectify), each in its own ORM session and transaction, on a SQLite file opened with
appcase's own connection settings (:func:`appcase.persistence.db.create_db_engine`: WAL,
``synchronous=NORMAL``, one connection per transaction). Each command loads the case,
moves its state with the peer library (refusing an event that is not allowed from the
current state or whose payload is empty), and appends a SHA-256 hash-chained event row
built as appcase builds one (:func:`appcase.audit.records.event_hash`) -- so the
writes match appcase's, while the checks are far lighter than appcase's guards (no payload
models, no phase windows, no permissions): the ratios flatter the peers.

These are the *light* peers (rows 8a-8c): a case row and an event row in a schema of their
own. The *like-for-like* peers (rows 8d-8f, :mod:`benchmarks.peers.faithful`) drive the
same libraries (each module's ``mover``) but write, at every step, the rows appcase writes
-- app, case projection, chained event with all its columns, the step's records -- on
appcase's own schema.
"""
