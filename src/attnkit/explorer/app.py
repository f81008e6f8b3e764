"""The explorer's web application: the page (``/``, ``/static/...``) and a JSON API.

==========================  ======  ==================================================
path                        method  body (JSON) → answer
``/api/runs``               GET     → ``{"runs": [summary, ...], "limits": {...}}``
``/api/tokenize``           POST    ``{run, text}`` → ``{ids, tokens}``
``/api/attention``          POST    ``{run, text}`` → every map per stack (L, H, Tq, Tk)
``/api/worked``             POST    ``{run, text, stack, layer, head, query}`` → one
                                    head's q, k, v, scores, mask, weights, output
``/api/next-token``         POST    ``{run, text, top_k}`` → a language model's candidates
``/api/fill-mask``          POST    ``{run, text, top_k}`` → candidates per ``[MASK]``
``/api/translate``          POST    ``{run, text, beam, top_k}`` → greedy steps (choice,
                                    alternatives, cross-attention) and the beam's n-best
``/api/samples``            GET     ``?run=ID`` → held-out images of an image run
``/api/image-attention``    POST    ``{run, image}`` (base64 PNG/JPEG) → class-token
                                    attention and rollout, or a caption's attention
==========================  ======  ==================================================

A request names a run by its id (:mod:`attnkit.explorer.runs`); nothing a request says is
ever opened as a path. Mistakes get a JSON ``{"error": "..."}`` with a 4xx status: 400 for
input the run cannot take (the message names the limit or the parameter), 404 for an
unknown run, 413 for a body over the limit. A run's model is shared by concurrent
requests, except the worked example's, which has it alone
(:class:`~attnkit.explorer.runs.ModelLock`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from attnkit.explorer import views
from attnkit.explorer.runs import ServedRun
from attnkit.explorer.views import Limits

__all__ = ["STATIC", "RequestError", "create_app"]

STATIC = Path(__file__).parent / "static"
MAX_BODY_BYTES = 4_000_000


class RequestError(Exception):
    """A request the explorer refuses: an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _body(request: Request) -> dict[str, Any]:
    """The request's JSON object, read at most up to :data:`MAX_BODY_BYTES`."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise RequestError(
            413, f"request body is {declared} bytes; the limit is {MAX_BODY_BYTES} bytes"
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestError(413, f"request body is over the limit of {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks) or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RequestError(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise RequestError(400, "the request body must be a JSON object")
    return body


def create_app(runs: dict[str, ServedRun], *, limits: Limits | None = None) -> Starlette:
    """The explorer's ASGI application over the loaded ``runs`` (id → run)."""
    limits = limits or Limits()

    def served(run_id: Any) -> ServedRun:
        if not isinstance(run_id, str) or run_id not in runs:
            raise RequestError(
                404, f"unknown run {run_id!r}: this explorer serves {', '.join(runs)}"
            )
        return runs[run_id]

    async def call(
        run_id: Any, compute: Callable[..., dict[str, Any]], *, exclusive: bool = False, **kwargs
    ) -> Response:
        """``compute(run, **kwargs)`` in a worker thread, alone on its model if
        ``exclusive`` (a hook on one of its modules), else beside other forward passes."""
        target = served(run_id)

        def locked() -> dict[str, Any]:
            with target.lock.exclusive() if exclusive else target.lock.shared():
                return compute(target.run, **kwargs)

        return JSONResponse({"run": target.id, **await run_in_threadpool(locked)})

    def endpoint(handler):
        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestError as exc:
                return _error(exc.status, str(exc))
            except (ValueError, KeyError) as exc:
                message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
                return _error(400, message.splitlines()[0] if message else type(exc).__name__)

        return wrapped

    def integer(body: dict[str, Any], name: str, default: int | None = None) -> int:
        value = body.get(name, default)
        if value is None:
            raise RequestError(400, f"{name} is missing: pass a whole number")
        if isinstance(value, bool) or not isinstance(value, int):
            raise RequestError(400, f"{name}={value!r}: pass a whole number")
        return value

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def list_runs(request: Request) -> Response:
        summaries = []
        for run_id, target in runs.items():
            summaries.append(views.run_summary(run_id, target.run))
        return JSONResponse({"runs": summaries, "limits": asdict(limits)})

    async def tokenize(request: Request) -> Response:
        body = await _body(request)
        return await call(body.get("run"), views.tokenize, text=body.get("text"), limits=limits)

    async def attention(request: Request) -> Response:
        body = await _body(request)
        return await call(
            body.get("run"), views.text_attention, text=body.get("text"), limits=limits
        )

    async def worked(request: Request) -> Response:
        body = await _body(request)
        return await call(
            body.get("run"),
            views.worked_example,
            exclusive=True,
            text=body.get("text"),
            stack=body.get("stack"),
            layer=integer(body, "layer"),
            head=integer(body, "head"),
            query=integer(body, "query"),
            limits=limits,
        )

    async def next_token(request: Request) -> Response:
        body = await _body(request)
        return await call(
            body.get("run"),
            views.next_token,
            text=body.get("text"),
            top_k=integer(body, "top_k", 10),
            limits=limits,
        )

    async def fill_mask(request: Request) -> Response:
        body = await _body(request)
        return await call(
            body.get("run"),
            views.masked_candidates,
            text=body.get("text"),
            top_k=integer(body, "top_k", 5),
            limits=limits,
        )

    async def translate(request: Request) -> Response:
        body = await _body(request)
        return await call(
            body.get("run"),
            views.translate_steps,
            text=body.get("text"),
            beam=integer(body, "beam", 4),
            top_k=integer(body, "top_k", 5),
            limits=limits,
        )

    async def samples(request: Request) -> Response:
        return await call(request.query_params.get("run"), views.samples)

    async def image_attention(request: Request) -> Response:
        body = await _body(request)
        served(body.get("run"))  # an unknown run is a 404 before the image is read
        image = views.decode_image(body.get("image"), limits)
        return await call(body.get("run"), views.image_attention, image=image)

    async def not_found(request: Request) -> Response:
        return _error(404, f"no such API path: {request.url.path}")

    routes = [
        Route("/", index),
        Route("/api/runs", endpoint(list_runs)),
        Route("/api/tokenize", endpoint(tokenize), methods=["POST"]),
        Route("/api/attention", endpoint(attention), methods=["POST"]),
        Route("/api/worked", endpoint(worked), methods=["POST"]),
        Route("/api/next-token", endpoint(next_token), methods=["POST"]),
        Route("/api/fill-mask", endpoint(fill_mask), methods=["POST"]),
        Route("/api/translate", endpoint(translate), methods=["POST"]),
        Route("/api/samples", endpoint(samples)),
        Route("/api/image-attention", endpoint(image_attention), methods=["POST"]),
        Route("/api/{rest:path}", not_found, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)
