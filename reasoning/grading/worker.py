"""The grading worker process: reads JSON requests on stdin, writes verdicts on stdout.

Started by `reasoning.grading.grade` as `python -m reasoning.grading.worker`, a clean
interpreter that imports only the grader (never the caller's script, torch, or the model),
so a worker killed on timeout is replaced in a fraction of a second. Started with
`--math-verify` (by `crosscheck`), it loads math-verify before it is ready and answers with
math-verify's verdicts instead.
"""

from __future__ import annotations

import json
import math
import signal
import sys

from reasoning.grading.crosscheck import load_math_verify, math_verify_verdict
from reasoning.grading.equivalence import judge

MEMORY_LIMIT = 2 << 30  # bytes of address space; a runaway computation fails instead of swapping
_GRACE_S = 5  # the worker ends itself this long past a request's deadline, even if orphaned


def _limit_memory() -> None:
    """Cap this process's address space where the platform allows it."""
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard == resource.RLIM_INFINITY or hard > MEMORY_LIMIT:
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, hard))
    except (ImportError, ValueError, OSError):  # no `resource` on Windows; macOS may refuse
        return


def _judge(request: dict) -> list:
    """The verdict on one request as a JSON-ready list."""
    try:
        v = judge(request["pred"], request["gold"], request["rel_tol"])
        return [v.correct, v.method, v.reason, v.pred, v.gold]
    except Exception as error:  # a grader bug or MemoryError must cost one grade, not the worker
        return [False, "error", f"{type(error).__name__}: {error}", "", ""]


def _second_opinion(request: dict) -> list:
    """math-verify's verdict on one request as a JSON-ready list."""
    try:
        return list(math_verify_verdict(request["pred"], request["gold"]))
    except Exception as error:  # as above: one verdict lost, not the worker
        return [None, "", "", f"{type(error).__name__}: {error}"]


def main() -> None:
    """Serve requests until stdin closes (the parent exited or dropped this worker)."""
    _limit_memory()
    answer = _judge
    if "--math-verify" in sys.argv[1:]:
        load_math_verify()  # before "ready": the import is not charged to a request's bound
        answer = _second_opinion
    # SIGALRM's default action ends the process even inside one long C call, so a worker
    # whose parent died mid-request cannot spin forever.
    alarm = getattr(signal, "alarm", None)
    print("ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if alarm:
            alarm(math.ceil(request["timeout"]) + _GRACE_S)
        reply = answer(request)
        if alarm:
            alarm(0)
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
