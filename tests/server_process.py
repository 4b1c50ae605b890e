"""`reasoning serve` as a real subprocess on 127.0.0.1 and a free port, for tests that talk HTTP to it.

`start_server(model_dir, *flags)` starts it and returns once GET /health answers (or fails the
test with the server's stderr if it died first); `RunningServer.url` is the base URL an OpenAI
client takes (".../v1"). Output goes to files, never to a pipe nobody reads (a full pipe would
stall the server).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
START_SECONDS = 120  # loading torch and the model on a busy 2-core machine


@dataclass
class RunningServer:
    """A started server: its base URL (".../v1"), its process, and where its stdout and stderr go."""

    url: str
    process: subprocess.Popen
    stdout: Path
    stderr: Path
    _logs: tempfile.TemporaryDirectory = field(repr=False)

    @property
    def root(self) -> str:
        """The URL without /v1 (where /health is)."""
        return self.url.removesuffix("/v1")

    def output(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def kill(self) -> None:
        """End it at once (SIGKILL), as a crash would."""
        self.process.kill()
        self.process.wait()

    def stop(self, timeout: float = 15) -> None:
        """End it as Ctrl-C does; kill it if it does not end in `timeout` seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._logs.cleanup()


def start_server(model_dir: Path, *extra_args: str, env: dict[str, str] | None = None) -> RunningServer:
    """Run `python -m reasoning serve --model DIR --host 127.0.0.1 --port FREE *extra_args` until /health answers."""
    port = free_port()
    logs = tempfile.TemporaryDirectory(prefix="reasoning-serve-")
    stdout, stderr = Path(logs.name) / "stdout", Path(logs.name) / "stderr"
    command = [sys.executable, "-m", "reasoning", "serve", "--model", str(model_dir), "--host", "127.0.0.1", "--port", str(port)]
    command += extra_args
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    server = RunningServer(f"http://127.0.0.1:{port}/v1", process, stdout, stderr, logs)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = server.output()
            server.stop()
            raise AssertionError(f"the server exited with code {process.returncode} before answering:\n{output}")
        try:
            with urllib.request.urlopen(f"{server.root}/health", timeout=5) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    output = server.output()  # before stop() removes the logs
    server.stop()
    raise AssertionError(f"the server did not answer /health within {START_SECONDS} s:\n{output}")
