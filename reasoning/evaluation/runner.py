"""Run an evaluation: generate, extract, grade, and append one JSON record per problem.

The runner knows nothing of models: it takes a `complete` function that receives all prompts
and yields (index, Completion) as each one finishes (the generation engine finishes them
out of order under continuous batching). Each record is written the moment it is graded,
so an interrupted run resumes exactly where it stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from reasoning.data import Problem
from reasoning.evaluation.records import RecordsError, RecordWriter, resume_records
from reasoning.grading import extract_answer, grade


@dataclass(frozen=True)
class Completion:
    """What generation produced for one prompt."""

    text: str
    tokens: int  # every token generated for the problem (all samples, critiques, judgments)
    seconds: float
    details: dict[str, Any] | None = None  # what a strategy adds to the record (votes, candidates, rounds)


# Receives (problem index, prompt) pairs and yields (position in that list, Completion) as each
# finishes. The index keys the problem's random streams, so a resumed run samples a problem as
# an uninterrupted one does, wherever it sits in the list of problems left.
Complete = Callable[[Sequence[tuple[int, str]]], Iterator[tuple[int, Completion]]]


def evaluate(
    problems: Sequence[Problem],
    prompts: Sequence[str],
    complete: Complete,
    out: str | Path,
    *,
    settings: dict[str, Any] | None = None,
    resume: bool = False,
    grade_timeout: float = 2.0,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Evaluate `problems` (with their `prompts`), appending records to `out`; returns all records.

    `settings` (model, decoding, prompt) head the results file; resuming with other settings,
    or a file whose settings cannot be read, is refused, so one file never mixes two experiments.
    """
    if not problems:
        raise ValueError("nothing to evaluate: no problems (an empty dataset, or --limit 0)")
    if len(problems) != len(prompts):
        raise ValueError(f"{len(problems)} problems but {len(prompts)} prompts")
    out = Path(out)
    settings = json.loads(json.dumps(settings or {}))  # as it reads back (tuples become lists)
    started = out.is_file() and out.stat().st_size > 0
    if started and not resume:
        raise RecordsError(f"{out} already holds results: pass --resume to continue that run, or choose another --out")
    previous = resume_records(out, settings) if started else []
    wanted = {problem.id for problem in problems}
    records = [record for record in previous if record["id"] in wanted]
    done = {record["id"] for record in records}
    todo = [index for index, problem in enumerate(problems) if problem.id not in done]

    correct = sum(bool(record["correct"]) for record in records)
    bar = tqdm(total=len(problems), initial=len(records), disable=not progress, desc="MATH", unit="problem")
    with RecordWriter(out, settings=None if started else settings) as writer:
        for position, completion in complete([(index, prompts[index]) for index in todo]):
            index = todo[position]
            record = grade_record(problems[index], prompts[index], completion, grade_timeout)
            writer.write(record)
            records.append(record)
            correct += record["correct"]
            bar.update()
            bar.set_postfix(accuracy=f"{correct / len(records):.1%}")
    bar.close()
    order = {problem.id: index for index, problem in enumerate(problems)}
    return sorted(records, key=lambda record: order[record["id"]])


def grade_record(problem: Problem, prompt: str, completion: Completion, grade_timeout: float) -> dict[str, Any]:
    """The record of one problem: what was asked, answered, extracted, and whether it is right."""
    extracted = extract_answer(completion.text)
    result = grade(extracted, problem.answer, timeout=grade_timeout) if extracted is not None else None
    return {
        "id": problem.id,
        "subject": problem.subject,
        "level": problem.level,
        "prompt": prompt,
        "completion": completion.text,
        "extracted": extracted,
        "gold": problem.answer,
        "correct": bool(result),
        "grade": {"method": result.method, "reason": result.reason} if result is not None else {"reason": "no answer found"},
        "tokens": completion.tokens,
        "seconds": round(completion.seconds, 3),
        **(completion.details or {}),
    }


def regrade(records: list[dict[str, Any]], *, grade_timeout: float = 2.0) -> list[dict[str, Any]]:
    """Re-extract and re-grade saved records (after a grader change); other fields are kept."""
    regraded = []
    for record in records:
        completion = Completion(record["completion"], record.get("tokens", 0), record.get("seconds", 0.0))
        problem = Problem(id=record["id"], question="", answer=record["gold"], subject=record.get("subject"), level=record.get("level"))
        regraded.append({**record, **grade_record(problem, record.get("prompt", ""), completion, grade_timeout)})
    return regraded


class Clock:
    """Seconds since the previous lap, so records' seconds add up to the wall time."""

    def __init__(self) -> None:
        self.last = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        seconds, self.last = now - self.last, now
        return seconds
