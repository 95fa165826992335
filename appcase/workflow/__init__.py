"""The workflow: the transition table, guards, machines, the engine, the sweep and audit."""
