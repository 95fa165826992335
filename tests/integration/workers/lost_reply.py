"""A client that dies right after its command commits: the reply is lost.

Run as ``python -m tests.integration.workers.lost_reply URL CASE_ID KEY``: it flags the case
with the idempotency key and kills itself with SIGKILL as soon as the database has committed,
before the engine returns. Its caller then retries the same command with the same key.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from sqlalchemy import event

from tests.builders import evidence, local
from tests.dbcheck import db
from tests.integration.workers import open_worker_engine


def main(url: str, case_id: str, key: str) -> None:
    """Fire ``flag`` on ``case_id`` with ``key``; die at the commit."""
    engine = open_worker_engine(url)

    def die(*_args: Any) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    # The command's connection goes back to the pool once its transaction has committed.
    event.listen(db(engine).pool, "checkin", die)
    engine.fire(
        case_id, "flag", actor="cs-cac", payload=evidence(), at=local(2, 21), idempotency_key=key
    )
    raise SystemExit("the commit did not happen")


if __name__ == "__main__":
    main(*sys.argv[1:4])
