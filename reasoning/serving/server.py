"""Run the server: load the model, start its `LiveEngine`, serve the app with uvicorn until stopped."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

from reasoning.serving.app import ServerSettings, build_app


@dataclass(frozen=True)
class ServeOptions:
    """`reasoning serve`'s flags, one field each."""

    model: str
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    served_model_name: str | None = None  # None: the --model text
    max_batch_size: int = 32
    max_cache_tokens: int | None = None
    max_waiting: int = 256
    max_n: int = 16
    max_body_bytes: int = 4 * 2**20
    quantize: str = "none"
    dtype: str = "auto"
    device: str = "auto"
    compile: bool = False


def serve(options: ServeOptions, on_ready: Callable[[str], None]) -> None:
    """Serve `options.model` until interrupted; `on_ready(url)` hears the base URL once the port listens."""
    import uvicorn

    from reasoning.checkpoint import load_model_and_tokenizer
    from reasoning.fingerprint import identify
    from reasoning.generation.live import LiveEngine

    listener = _listen(options.host, options.port)  # a port in use fails before the model loads
    try:
        model, tokenizer = load_model_and_tokenizer(options.model, options.device, options.dtype, quantize=options.quantize)
        live = LiveEngine(model, tokenizer, max_batch_size=options.max_batch_size, max_cache_tokens=options.max_cache_tokens,
                          max_waiting=options.max_waiting, compile=options.compile)  # fmt: skip
        settings = ServerSettings(
            options.served_model_name or options.model, live.context, options.api_key,
            options.max_n, options.max_body_bytes, identify(options.model).get("model_fingerprint"),
        )  # fmt: skip
        config = uvicorn.Config(build_app(live, tokenizer, settings), log_level="warning", access_log=False, timeout_graceful_shutdown=5)
        host, port = listener.getsockname()[:2]
        on_ready(f"http://{_url_host(host)}:{port}/v1")
        try:
            uvicorn.Server(config).run(sockets=[listener])
        finally:
            live.close()
    finally:
        listener.close()


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port; a port in use or a host that cannot be had is a one-line error."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listener = socket.socket(family, socket.SOCK_STREAM)
    except OSError as error:
        raise OSError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(2048)
    except OSError as error:
        listener.close()
        raise OSError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return listener


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
