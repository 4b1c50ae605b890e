"""Worker processes that answer one JSON request at a time and are killed when one overruns.

A pool keeps idle `python -m reasoning.grading.worker` processes for reuse; a killed worker is
replaced straight away, in the background. The grader has one pool; the math-verify cross-check
(`crosscheck`) has its own, whose workers load math-verify before they say they are ready.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

_STARTUP_TIMEOUT = 60.0  # a worker that cannot import what it needs in this long is a setup error


class Worker:
    """One worker process (started with `args`) and a thread reading its replies."""

    def __init__(self, args: tuple[str, ...] = ()) -> None:
        root = str(Path(__file__).resolve().parents[2])  # so the worker finds this very package
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reasoning.grading.worker", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, env=env,
        )  # fmt: skip
        self.replies: queue.SimpleQueue = queue.SimpleQueue()
        self.ready = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.replies.put(line)
        self.replies.put(None)

    def alive(self) -> bool:
        return self.process.poll() is None

    def judge(self, request: dict, timeout: float, died: Any) -> Any:
        """Send one request; the reply, `died` if the worker died, or None (worker killed) if no
        reply comes within timeout."""
        if not self.ready:  # start-up is waited for here, outside the request's bound
            try:
                started = self.replies.get(timeout=_STARTUP_TIMEOUT)
            except queue.Empty:
                started = None
            if started != "ready\n":
                self.stop()
                raise RuntimeError("the grading worker failed to start; see its stderr")
            self.ready = True
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            reply = self.replies.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            return None
        except OSError:  # the worker is gone (killed from outside, or out of memory)
            reply = None
        if reply is None:
            self.stop()
            return died
        return json.loads(reply)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


class WorkerPool:
    """Idle workers kept for reuse; `died` is the reply given for a request whose worker died."""

    def __init__(self, args: tuple[str, ...] = (), died: Any = None) -> None:
        self.args, self.died = args, died
        self.reset()
        atexit.register(self.close)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        """Forget all workers; a forked child must not share its parent's pipes."""
        self.idle: list[Worker] = []
        self.lock = threading.Lock()

    def ask(self, request: dict, timeout: float) -> Any:
        """One request answered by an idle worker (or a new one); None if it overran `timeout`."""
        worker = self.acquire()
        reply = worker.judge(request, timeout, self.died)
        self.release(worker)
        return reply

    def acquire(self) -> Worker:
        with self.lock:
            while self.idle:
                worker = self.idle.pop()
                if worker.alive():
                    return worker
            return Worker(self.args)

    def release(self, worker: Worker) -> None:
        with self.lock:
            self.idle.append(worker if worker.alive() else Worker(self.args))

    def close(self) -> None:
        with self.lock:
            for worker in self.idle:
                worker.stop()
            self.idle.clear()
