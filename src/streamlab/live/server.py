"""The dashboard's web server: one page, its JSON, and Server-Sent Events, on 127.0.0.1.

``GET /`` is the page, ``GET /api/state`` the collector's state (all the page renders),
``GET /api/events`` the same state pushed as Server-Sent Events whenever it changes (and at
least every 2 s), ``POST /api/case/<name>`` starts a troubleshooting case in a live run. The
server runs uvicorn in a thread of the process that runs the pipelines.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson

from streamlab.errors import StreamlabError

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from streamlab.live.collect import Collector

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
PUSH_EVERY_S = 1.0
"""How often the event stream sends the state when nothing changed (a heartbeat)."""
STATIC = ("index.html", "app.js", "style.css", "chart.umd.min.js")
"""The page's files, shipped in ``streamlab/resources/live/``."""
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


def check_port(port: int, host: str = HOST) -> None:
    """Fail with one line when ``port`` cannot be served on ``host`` (taken, or invalid)."""
    if not 0 < port < 65536:
        raise StreamlabError(f"--port must be between 1 and 65535, got {port}")
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StreamlabError(
                f"port {port} on {host} is taken (another dashboard?): stop it or choose "
                f"another with --port {port + 1}"
            ) from None
        raise StreamlabError(
            f"cannot serve on {host}:{port} ({exc.strerror}): choose --port"
        ) from None
    finally:
        probe.close()


def _static(name: str) -> bytes:
    return resources.files("streamlab").joinpath(f"resources/live/{name}").read_bytes()


def _json(data: Any) -> bytes:
    return orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS)


def build_app(collector: Collector) -> Starlette:
    """Return the dashboard's ASGI application, serving ``collector``'s state."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def page(request: Request) -> Response:
        return Response(_static("index.html"), media_type="text/html")

    async def static(request: Request) -> Response:
        name = str(request.path_params["name"])
        if name not in STATIC:
            return Response(status_code=404)
        kind = _TYPES.get(name[name.rfind(".") :], "application/octet-stream")
        return Response(_static(name), media_type=kind, headers={"Cache-Control": "no-cache"})

    async def state(request: Request) -> Response:
        return Response(_json(collector.state()), media_type="application/json")

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[bytes]:
            sent = -1
            last = 0.0
            while not await request.is_disconnected():
                now = time.monotonic()
                if collector.version != sent or now - last >= PUSH_EVERY_S:
                    sent, last = collector.version, now
                    yield b"data: " + _json(collector.state()) + b"\n\n"
                await asyncio.sleep(0.25)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    async def case(request: Request) -> Response:
        name = str(request.path_params["name"])
        on = request.query_params.get("on", "1") != "0"
        if collector.feed is None:
            return JSONResponse(
                {"error": "cases can be brought about only in a live run ('streamlab live')"},
                status_code=409,
            )
        try:
            collector.feed.trigger(name, on)
        except StreamlabError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse({"case": name, "on": on, "active": collector.feed.active()})

    return Starlette(
        routes=[
            Route("/", page),
            Route("/static/{name}", static),
            Route("/api/state", state),
            Route("/api/events", events),
            Route("/api/case/{name}", case, methods=["POST"]),
        ]
    )


class Dashboard:
    """The dashboard served by uvicorn in a background thread.

    >>> with Dashboard(collector, 8765):  # doctest: +SKIP
    ...     run_pipelines(...)
    """

    def __init__(self, collector: Collector, port: int = DEFAULT_PORT, host: str = HOST) -> None:
        import uvicorn

        self.collector = collector
        self.url = f"http://{host}:{port}/"
        config = uvicorn.Config(
            build_app(collector), host=host, port=port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> Dashboard:
        """Serve in a thread; return once the server listens."""
        self._thread = threading.Thread(
            target=self.server.run, name="streamlab-dashboard", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise StreamlabError(f"the dashboard could not start on {self.url}: choose --port")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Stop serving (open pages keep their last picture)."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Dashboard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
