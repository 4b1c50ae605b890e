"""The public grader: every grade returns within a hard time bound and says why.

Cheap checks (no answer, identical strings, identical cleaned strings, oversize input) run
here. Everything that touches sympy runs in a persistent worker process that is killed when
a grade overruns its bound and replaced at once; grading many answers drives several workers.
The bound runs from when a ready worker receives the answer: a worker's one-off start-up
(a fraction of a second, overlapped with other work after a kill) is not charged to a grade.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from reasoning.grading.normalize import clean_with_unit

DEFAULT_TIMEOUT = 2.0  # seconds for one grade, however it is spent
DEFAULT_REL_TOL = 1e-9  # how close a decimal must be to a value it cannot write exactly
MAX_CHARS = 1000  # longer answers are refused before any parsing
_STARTUP_TIMEOUT = 60.0  # a worker that cannot import the grader in this long is a setup error


@dataclass(frozen=True)
class GradeResult:
    """The outcome of one grade: truthy when correct, with the method and the forms compared.

    `method` is how it was decided: string, text, choice, unit, numeric, symbolic, equation,
    set, tuple, interval, matrix, base; or, for an answer that could not be compared, none,
    too-long, parse, structure, timeout or error.
    """

    correct: bool
    method: str
    pred: str  # the answer's normalized form
    gold: str  # the reference's normalized form
    reason: str = ""  # why it is incorrect; empty when correct

    def __bool__(self) -> bool:
        return self.correct


def grade(
    pred: str | None,
    gold: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    rel_tol: float = DEFAULT_REL_TOL,
) -> GradeResult:
    """Grade one answer against the reference answer, giving up as incorrect after `timeout` s."""
    quick = _quick(pred, gold)
    return quick if quick is not None else _bounded(pred, gold, timeout, rel_tol)


def grade_many(
    pairs: Iterable[tuple[str | None, str]],
    processes: int | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    rel_tol: float = DEFAULT_REL_TOL,
) -> list[GradeResult]:
    """Grade (answer, reference) pairs in order, on `processes` workers (default: all cores)."""
    pairs = list(pairs)
    results = [_quick(pred, gold) for pred, gold in pairs]
    todo = [k for k, result in enumerate(results) if result is None]
    workers = max(1, min(processes or os.cpu_count() or 1, len(todo)))

    def run(k: int) -> GradeResult:
        return _bounded(*pairs[k], timeout, rel_tol)

    if workers == 1:
        graded = [run(k) for k in todo]
    else:  # threads only wait on pipes; the worker processes do the work in parallel
        with ThreadPoolExecutor(workers) as executor:
            graded = list(executor.map(run, todo))
    for k, result in zip(todo, graded):
        results[k] = result
    return results


def _quick(pred: str | None, gold: str) -> GradeResult | None:
    """Decide without a worker when strings settle it; None when maths is needed."""
    if pred is None:
        return GradeResult(False, "none", "", gold, "no answer was extracted")
    if pred.strip() == gold.strip():
        return GradeResult(True, "string", pred.strip(), gold.strip())
    for name, text in (("answer", pred), ("reference", gold)):
        if len(text) > MAX_CHARS:
            shown = (pred[:60] + "...", gold) if name == "answer" else (pred, gold[:60] + "...")
            reason = f"{name} longer than {MAX_CHARS} characters"
            return GradeResult(False, "too-long", *shown, reason)
    (p, p_unit), (g, g_unit) = clean_with_unit(pred), clean_with_unit(gold)
    if p_unit and g_unit and p_unit != g_unit:
        return GradeResult(False, "unit", p, g, f"different units: {p_unit} against {g_unit}")
    return GradeResult(True, "string", p, g) if p == g else None


def _bounded(pred: str, gold: str, timeout: float, rel_tol: float) -> GradeResult:
    """Run the full comparison in a worker, killing it if it overruns."""
    worker = _POOL.acquire()
    request = {"pred": pred, "gold": gold, "rel_tol": rel_tol, "timeout": timeout}
    reply = worker.judge(request, timeout)
    _POOL.release(worker)
    if reply is None:
        return GradeResult(False, "timeout", pred[:60], gold, f"no verdict within {timeout:g} s")
    correct, method, reason, pred_form, gold_form = reply
    return GradeResult(correct, method, pred_form, gold_form, reason)


class _Worker:
    """One `python -m reasoning.grading.worker` process and a thread reading its replies."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[2])  # so the worker finds this very package
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reasoning.grading.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, env=env,
        )
        self.replies: queue.SimpleQueue = queue.SimpleQueue()
        self.ready = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.replies.put(line)
        self.replies.put(None)

    def alive(self) -> bool:
        return self.process.poll() is None

    def judge(self, request: dict, timeout: float) -> list | None:
        """Send one request; the reply, or None (worker killed) if none comes within timeout."""
        if not self.ready:  # start-up is waited for here, outside the grade's bound
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
            return [False, "error", "the grading worker died", "", ""]
        return json.loads(reply)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


class _Pool:
    """Idle workers kept for reuse; a killed worker is replaced straight away, in the background."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget all workers; a forked child must not share its parent's pipes."""
        self.idle: list[_Worker] = []
        self.lock = threading.Lock()

    def acquire(self) -> _Worker:
        with self.lock:
            while self.idle:
                worker = self.idle.pop()
                if worker.alive():
                    return worker
            return _Worker()

    def release(self, worker: _Worker) -> None:
        with self.lock:
            self.idle.append(worker if worker.alive() else _Worker())

    def close(self) -> None:
        with self.lock:
            for worker in self.idle:
                worker.stop()
            self.idle.clear()


_POOL = _Pool()
atexit.register(_POOL.close)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL.reset)
