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
from reasoning.evaluation.problem_record import regrade
from reasoning.evaluation.records import read_run, write_records
from reasoning.evaluation.rundir import read_results, task_files, write_summary
from reasoning.evaluation.summary import summarize
from reasoning.evaluation.tasks import GRADE_TIMEOUT, Task


def rescore(path: str | Path, *, write: bool = False, grade_timeout: float = GRADE_TIMEOUT) -> dict[str, dict[str, Any]]:
    """{task: summary} of the results at `path` graded again; saved back with `write`."""
    path = Path(path)
    results = read_results(path)
    summaries = {}
    for name, (settings, records) in results.items():
        if not records:
            raise ValueError(f"nothing to score: {path} holds no records of {name}")
        regraded = regrade(grader_of(name, settings), records, grade_timeout=grade_timeout)
        summaries[name] = summarize(regraded)
        if write:
            by_id = {record["id"]: record for record in regraded}
            for file in task_files(path, name) if path.is_dir() else [path]:
                write_records(file, [by_id[record["id"]] for record in read_run(file)[1]], settings)
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
