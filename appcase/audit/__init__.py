"""The audit trail's rules, in the standard library alone: canonical encoding, THE hashed
record of an event, THE event→case fold, chain and checkpoint checks, keys and signatures,
and the offline bundle verifier. Nothing here touches a database, so an auditor can run it
from copied files without installing appcase."""
