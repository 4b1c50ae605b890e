"""The HTTP layer: OpenAI's routes over one `LiveEngine`, every failure an OpenAI error body.

Thin, as vLLM's server is: a route reads and checks the body (`requests.py`), submits one job
to the engine that every request shares (continuous batching across requests), and writes
the job's samples back whole or as server-sent events (`responses.py`). A client that goes
away cancels its job at once, streamed or not. Starlette without FastAPI, so every body,
errors included, is written here: 400/404/413/422 for bad requests, 401 for a wrong key, 429
when too many jobs wait, 500 (and the server keeps serving) for a bug.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from reasoning.generation.live import Job, LiveEngine, Overloaded, Sample
from reasoning.serving.errors import RequestError, error_body
from reasoning.serving.requests import ParsedRequest, parse_chat, parse_completion, typed
from reasoning.serving.responses import Reply
from reasoning.tokenizer import Qwen3Tokenizer

log = logging.getLogger("reasoning.serve")


@dataclass(frozen=True)
class ServerSettings:
    """What the routes need besides the engine: the model's name and context, and the limits."""

    model_name: str
    context: int  # tokens of prompt and completion together
    api_key: str | None = None
    max_n: int = 16
    max_body_bytes: int = 4 * 2**20
    fingerprint: str | None = None  # a hash of the weights' files (reasoning.fingerprint), shown in /v1/models


def build_app(live: LiveEngine, tokenizer: Qwen3Tokenizer, settings: ServerSettings) -> Starlette:
    """The Starlette app serving `live` under OpenAI's routes."""

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "running": live.running, "waiting": live.waiting})

    async def models(request: Request) -> Response:
        _check_key(request, settings.api_key)
        card = {"id": settings.model_name, "object": "model", "created": int(time.time()), "owned_by": "reasoning",
                "max_model_len": settings.context, **({"fingerprint": settings.fingerprint} if settings.fingerprint else {})}  # fmt: skip
        return JSONResponse({"object": "list", "data": [card]})

    def completion_route(parse: Callable[..., ParsedRequest]) -> Callable:
        async def route(request: Request) -> Response:
            _check_key(request, settings.api_key)
            body = await _json_body(request, settings.max_body_bytes)
            model = typed(body, "model", str, "a string")
            if model is not None and model != settings.model_name:
                raise RequestError(404, f"The model `{model}` does not exist: this server serves `{settings.model_name}`",
                                   param="model", code="model_not_found")  # fmt: skip
            parsed = parse(body, tokenizer, settings.context, settings.max_n)
            changed = asyncio.Event()
            job = _submit(live, parsed, _waker(changed))
            reply = Reply(parsed, settings.model_name, tokenizer)
            if parsed.stream:
                return StreamingResponse(_events(job, reply, changed, parsed.include_usage), media_type="text/event-stream")
            samples = await _outcome(job, changed, request)
            if samples is None:  # the client went away; nobody reads this
                return Response(status_code=499)
            if job.error is not None:
                raise job.error
            return JSONResponse(reply.whole(samples))

        return _answering(route)

    routes = [
        Route("/health", _answering(health), methods=["GET"]),
        Route("/v1/models", _answering(models), methods=["GET"]),
        Route("/v1/chat/completions", completion_route(parse_chat), methods=["POST"]),
        Route("/v1/completions", completion_route(parse_completion), methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Exception: _server_error})


def _answering(route: Callable) -> Callable:
    """The route, with a refusal written as OpenAI's error body and a bug as a 500 (logged, the server serving on)."""

    async def answer(request: Request) -> Response:
        try:
            return await route(request)
        except RequestError as error:
            return _error_response(error)
        except Exception as error:  # noqa: BLE001 - one request's bug must not take the server down
            return await _server_error(request, error)

    return answer


def _error_response(error: RequestError) -> JSONResponse:
    return JSONResponse(error_body(error), status_code=error.status)


async def _http_error(request: Request, error: Exception) -> Response:
    """Starlette's own refusals (no such route, wrong method) in OpenAI's body."""
    assert isinstance(error, HTTPException)
    words = {404: f"no route {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}
    message = words.get(error.status_code, str(error.detail))
    return _error_response(RequestError(error.status_code, message, code="not_found" if error.status_code == 404 else None))


async def _server_error(request: Request, error: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=error)
    return _error_response(RequestError(500, f"internal server error: {type(error).__name__}: {error}", code="internal_error"))


def _check_key(request: Request, api_key: str | None) -> None:
    """With --api-key, the request must carry `Authorization: Bearer KEY`."""
    if api_key is None:
        return
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
        raise RequestError(401, "invalid or missing API key: send the header Authorization: Bearer KEY", code="invalid_api_key")


async def _json_body(request: Request, limit: int) -> dict:
    """The request's body as a JSON object; refused when over `limit` bytes, not UTF-8, or not JSON."""
    too_large = RequestError(413, f"the request body is over {limit} bytes (--max-body-bytes)", code="body_too_large")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise too_large
    try:
        value = json.loads(bytes(body).decode("utf-8"))
    except UnicodeDecodeError as error:
        raise RequestError(400, f"the request body is not UTF-8 (byte {error.start})", code="invalid_encoding") from None
    except (json.JSONDecodeError, RecursionError) as error:
        raise RequestError(400, f"the request body is not valid JSON: {error}", code="invalid_json") from None
    if not isinstance(value, dict):
        raise RequestError(400, "the request body must be a JSON object", code="invalid_json")
    return value


def _waker(changed: asyncio.Event) -> Callable[[Job], None]:
    """The job's callback: on the engine thread, wake the route's event loop (quick, never raising)."""
    loop = asyncio.get_running_loop()

    def wake(job: Job) -> None:
        try:
            loop.call_soon_threadsafe(changed.set)
        except RuntimeError:  # the loop has closed: the server is stopping
            pass

    return wake


def _submit(live: LiveEngine, parsed: ParsedRequest, on_update: Callable[[Job], None]) -> Job:
    try:
        return live.submit(parsed.prompt_ids, parsed.config, on_update=on_update)
    except Overloaded as error:
        raise RequestError(429, str(error), code="too_many_requests") from None
    except ValueError as error:  # a prompt the model cannot take
        raise RequestError(400, str(error), param="prompt", code="invalid_value") from None
    except RuntimeError as error:  # the engine has stopped
        raise RequestError(503, str(error), code="engine_stopped") from None


def _finished(samples: list[Sample]) -> bool:
    return all(sample.finish_reason is not None for sample in samples)


async def _outcome(job: Job, changed: asyncio.Event, request: Request) -> list[Sample] | None:
    """The job's final samples, or None if the client went away first (then the job is cancelled)."""
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        while True:
            changed.clear()
            samples = job.samples()
            if _finished(samples):
                return samples
            woken = asyncio.ensure_future(changed.wait())
            await asyncio.wait({woken, gone}, return_when=asyncio.FIRST_COMPLETED)
            if gone.done():
                woken.cancel()
                return None
    finally:
        gone.cancel()
        if not job.done:
            job.cancel()


async def _disconnected(request: Request) -> None:
    """Returns when the client closes its connection (the body has been read: what comes next is the disconnect)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _events(job: Job, reply: Reply, changed: asyncio.Event, include_usage: bool) -> AsyncIterator[str]:
    """The job as server-sent events: chunks as tokens come, then usage if asked, then [DONE].

    Starlette cancels this generator when the client disconnects; the job is cancelled with it."""
    try:
        for chunk in reply.first_chunks():
            yield _event(chunk)
        while True:
            changed.clear()
            samples = job.samples()
            for chunk in reply.chunks(samples):
                yield _event(chunk)
            if _finished(samples):
                break
            await changed.wait()
        if job.error is not None:
            log.error("a streamed request failed", exc_info=job.error)
            yield _event(error_body(RequestError(500, f"internal server error: {type(job.error).__name__}: {job.error}")))
        elif include_usage:
            yield _event(reply.usage_chunk(samples))
        yield "data: [DONE]\n\n"
    except Exception as error:  # noqa: BLE001 - headers are sent: the error goes in the stream
        log.error("a streamed request failed", exc_info=error)
        yield _event(error_body(RequestError(500, f"internal server error: {type(error).__name__}: {error}")))
    finally:
        if not job.done:
            job.cancel()


def _event(payload: dict) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
