"""The bound on request bodies: no request makes the server hold more than
:data:`~appcase.limits.MAX_REQUEST_BODY_BYTES` of its body, before its token is checked or
its JSON parsed.

FastAPI reads a body whole into memory before it runs a route's dependencies (the bearer
token among them), so that without this bound anyone who can reach the port could make the
server hold an upload of any size. A ledger upload (``POST /imports/ledger``) is exempt: its
route streams the body to a temporary file under its own limit
(:data:`~appcase.limits.MAX_LEDGER_FILE_BYTES`).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appcase.limits import LIMITS, MAX_REQUEST_BODY_BYTES
from appcase.server.problems import TYPE_BASE, problem_response
from appcase.server.schemas import Problem

__all__ = ["STREAMED_PATHS", "BodyLimit"]

STREAMED_PATHS = frozenset({"/imports/ledger"})
"""Paths whose routes read their bodies as streams under a limit of their own."""

_QUOTE = next(limit for limit in LIMITS if limit.name == "MAX_REQUEST_BODY_BYTES").quote()


class BodyLimit:
    """ASGI middleware: a request whose body exceeds ``limit`` bytes (declared by
    ``Content-Length`` or sent chunked) is answered 413 (problem details) and never reaches
    the application; any other request's body is passed on unchanged.

    Args:
        app: the application wrapped.
        limit: the largest body in bytes (default :data:`MAX_REQUEST_BODY_BYTES`).
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_REQUEST_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope (HTTP requests are bounded, others pass)."""
        if scope["type"] != "http" or _route_path(scope) in STREAMED_PATHS:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message]), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        await self.app(scope, _replay([{"type": "http.request", "body": body}], receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = Problem(
            type=TYPE_BASE + "too-large",
            title="The request body is too large",
            status=413,
            detail=f"a request body is at most {_QUOTE}",
            instance=scope.get("path"),
        )
        # The rest of the body is not read: the connection is closed after the answer.
        await problem_response(problem, {"Connection": "close"})(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The request's path as the routes see it (without a ``root_path`` a proxy mounts the
    application under)."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A ``receive`` that gives ``messages`` first, then defers to ``then`` (a disconnect
    notice, when the application waits for one)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive
