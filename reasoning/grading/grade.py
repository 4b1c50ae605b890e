"""The public grader: every grade returns within a hard time bound and says why.

Cheap checks (no answer, identical strings, identical cleaned strings, oversize input) run
here. Everything that touches sympy runs in a persistent worker process that is killed when
a grade overruns its bound and replaced at once; grading many answers drives several workers.
The bound runs from when a ready worker receives the answer: a worker's one-off start-up
(a fraction of a second, overlapped with other work after a kill) is not charged to a grade.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from reasoning.grading.normalize import clean_with_unit
from reasoning.grading.workers import WorkerPool

DEFAULT_TIMEOUT = 2.0  # seconds for one grade, however it is spent
DEFAULT_REL_TOL = 1e-9  # how close a decimal must be to a value it cannot write exactly
MAX_CHARS = 1000  # longer answers are refused before any parsing


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
    request = {"pred": pred, "gold": gold, "rel_tol": rel_tol, "timeout": timeout}
    reply = _POOL.ask(request, timeout)
    if reply is None:
        return GradeResult(False, "timeout", pred[:60], gold, f"no verdict within {timeout:g} s")
    correct, method, reason, pred_form, gold_form = reply
    return GradeResult(correct, method, pred_form, gold_form, reason)


_POOL = WorkerPool(died=[False, "error", "the grading worker died", "", ""])  # the grader's workers
