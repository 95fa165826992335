"""appcase over HTTP (the optional extra ``appcase[server]``: FastAPI and uvicorn).

``appcase serve`` runs it; :func:`create_app` builds the ASGI application on an engine for
a caller who runs it otherwise. See docs/http.md.
"""

from appcase.server.app import create_app, from_environment

__all__ = ["create_app", "from_environment"]
