"""The one streaming record loop: generate, grade off the decode path, append and fsync, resume.

Evaluation (`evaluation.run`), the thinking-budget sweep and distillation
(`sft.distill.generate_traces`) all run it. A records file starts with its settings header
(`records`); a resumed run checks the header and continues from the records already there.
As generation finishes each item, its grading goes to a thread pool (each grade in the
grader's bounded worker process), so a slow grade never stalls the batch; graded results
are written in the calling thread as they complete, each line flushed and fsync'd, so a run
killed at any moment loses at most the line being written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from reasoning.evaluation.records import RecordsError, RecordWriter, holds_records, resume_records, write_records

Item = TypeVar("Item")
Graded = TypeVar("Graded")


def open_records(path: str | Path, settings: dict[str, Any], *, resume: bool) -> tuple[list[dict[str, Any]], RecordWriter]:
    """The records already in `path` and a writer that appends to it.

    A fresh run (no records yet, or only the header of a run that failed before its first
    record) starts the file with `settings` as its header; a file that holds records is
    continued only with `resume`, and only under equal settings (one file never mixes two
    experiments). Records holding a failed request (`holds_failed_sample`) are dropped from
    the file, so their problems run again."""
    path = Path(path)
    settings = json.loads(json.dumps(settings))  # as it reads back (tuples become lists)
    started = holds_records(path)
    if started and not resume:
        raise RecordsError(f"{path} already holds results: pass --resume to continue that run, or choose another --out")
    records = resume_records(path, settings) if started else []
    redo = [record for record in records if holds_failed_sample(record)]
    if redo:  # their problems are asked again: the records go, so the new ones replace them
        records = [record for record in records if not holds_failed_sample(record)]
        write_records(path, records, settings)
    return records, RecordWriter(path, settings=None if started else settings)


def holds_failed_sample(record: dict[str, Any]) -> bool:
    """Whether a record holds a sample whose request to an endpoint failed after its retries
    (finish_reason "error"; a distillation progress record counts them in "failed"): a resumed
    run asks that problem again."""
    samples = record.get("samples")
    if isinstance(samples, list):
        return any(sample.get("finish_reason") == "error" for sample in samples)
    return bool(record.get("failed"))


def stream_records(
    generated: Iterable[tuple[int, Item]],
    grade: Callable[[int, Item], Graded],
    write: Callable[[Graded], None],
    *,
    workers: int | None = None,
) -> None:
    """Grade each (index, item) as generation yields it, on a thread pool, and `write` each
    graded result as soon as it is ready; an interrupted run (an error, Ctrl-C) still writes
    every result already generated before the interruption propagates."""
    pending: set[Future] = set()

    def write_done(wait: bool) -> None:
        for future in [f for f in pending if wait or f.done()]:
            pending.discard(future)
            write(future.result())

    with ThreadPoolExecutor(workers or os.cpu_count() or 2) as pool:
        try:
            for index, item in generated:
                pending.add(pool.submit(grade, index, item))
                write_done(wait=False)
        finally:
            write_done(wait=True)
