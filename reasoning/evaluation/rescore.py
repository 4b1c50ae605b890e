"""Grade saved results again, without the model: after a grader change, or to check a run.

A run directory or a records file is read back, every completion graded again by its task
(named in the run's settings), and summarised; with `write`, each records file is replaced
atomically with its re-graded records (each rank's file keeps its own problems) and a run
directory's summary.json rewritten.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reasoning.evaluation.benchmarks import BENCHMARKS
from reasoning.evaluation.crosscheck import CrossCheck, cross_check
from reasoning.evaluation.problem_record import regrade
from reasoning.evaluation.records import read_run, write_records
from reasoning.evaluation.rundir import read_results, task_files, write_summary
from reasoning.evaluation.summary import summarize
from reasoning.evaluation.tasks import GRADE_TIMEOUT, Task
from reasoning.grading.crosscheck import require_math_verify


def rescore(
    path: str | Path, *, write: bool = False, grade_timeout: float = GRADE_TIMEOUT, after_thinking: bool | None = None,
    cross_checks: dict[str, CrossCheck | None] | None = None,
) -> dict[str, dict[str, Any]]:
    """{task: summary} of the results at `path` graded again; saved back with `write`.
    `after_thinking`: grade only what follows </think> (True) or the whole text (False); None:
    as the run was graded. `cross_checks`, where given, is filled with each task's re-graded
    samples checked against math-verify's verdicts (None for a multiple-choice task)."""
    if cross_checks is not None:
        require_math_verify()  # before any grading
    path = Path(path)
    results = read_results(path)
    summaries = {}
    for name, (settings, records) in results.items():
        if not records:
            raise ValueError(f"nothing to score: {path} holds no records of {name}")
        strict = settings.get("grade_after_thinking", False) if after_thinking is None else after_thinking
        task = grader_of(name, settings)
        regraded = regrade(task, records, grade_timeout=grade_timeout, after_thinking=strict)
        summaries[name] = summarize(regraded)
        if cross_checks is not None:
            cross_checks[name] = cross_check(regraded, after_thinking=strict) if task.kind == "math" else None
        if write:
            by_id = {record["id"]: record for record in regraded}
            graded_as = {**settings, "grade_after_thinking": strict} if "grade_after_thinking" in settings or strict else settings
            for file in task_files(path, name) if path.is_dir() else [path]:
                write_records(file, [by_id[record["id"]] for record in read_run(file)[1]], graded_as)
    if write and path.is_dir():
        write_summary(path)
    return summaries


def grader_of(name: str, settings: dict[str, Any]) -> Task:
    """The task that grades a run's records: its kind as the run saved it, else the benchmark's,
    else math (a budget sweep's `<task>@<budget>` grades as its task)."""
    kind = settings.get("task_kind")
    if kind is None:
        benchmark = BENCHMARKS.get(name.split("@")[0])
        kind = benchmark.kind if benchmark is not None else "math"
    return Task(name, (), kind)
