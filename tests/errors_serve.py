"""Bad inputs of `reasoning serve` (rows of error_table): refused before any request is served."""

from __future__ import annotations

import socket
from pathlib import Path

from error_table import ErrorCase


def port_in_use(tmp: Path, monkeypatch) -> dict:
    """A port something already listens on (closed again by `release`)."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return {"port": holder.getsockname()[1], "holder": holder}


def release(tmp: Path, values: dict) -> None:
    values["holder"].close()


CASES = [
    ErrorCase("serve-port-out-of-range", ("serve", "--model", "m", "--port", "70000"),
              ("argument --port: must be a port number (0 to 65535), got 70000",), usage=True),
    ErrorCase("serve-max-n-zero", ("serve", "--model", "m", "--max-n", "0"),
              ("argument --max-n: must be a positive integer, got 0",), usage=True),
    ErrorCase("serve-missing-model-directory", ("serve", "--model", "{tmp}/missing", "--port", "0"),
              ("checkpoint directory {tmp}/missing does not exist",)),
    ErrorCase("serve-port-in-use", ("serve", "--model", "m", "--port", "{port}"), ("cannot listen on 127.0.0.1:{port}",),
              port_in_use, release),
]  # fmt: skip
