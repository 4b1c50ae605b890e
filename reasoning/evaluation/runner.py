"""Run an evaluation: generate, extract, grade, and append one JSON record per problem.

The runner knows nothing of models: it takes a `complete` function that receives all prompts
and yields (index, Completion) as each one finishes (the generation engine finishes them
out of order under continuous batching). Each record is written the moment it is graded,
so an interrupted run resumes exactly where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from reasoning.data import Problem
from reasoning.evaluation.records import RecordsError, RecordWriter, read_records
from reasoning.grading import extract_answer, grade


@dataclass(frozen=True)
class Completion:
    """What generation produced for one prompt."""

    text: str
    tokens: int  # every token generated for the problem (all samples, critiques, judgments)
    seconds: float
    details: dict[str, Any] | None = None  # what a strategy adds to the record (votes, candidates, rounds)


Complete = Callable[[Sequence[str]], Iterator[tuple[int, Completion]]]


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

    `settings` (model, decoding, prompt) are saved beside the results; resuming with other
    settings is refused, so one file never mixes two experiments.
    """
    if len(problems) != len(prompts):
        raise ValueError(f"{len(problems)} problems but {len(prompts)} prompts")
    out = Path(out)
    previous = _start_or_resume(out, settings or {}, resume)
    wanted = {problem.id for problem in problems}
    records = [record for record in previous if record["id"] in wanted]
    done = {record["id"] for record in records}
    todo = [index for index, problem in enumerate(problems) if problem.id not in done]

    correct = sum(bool(record["correct"]) for record in records)
    bar = tqdm(total=len(problems), initial=len(records), disable=not progress, desc="MATH", unit="problem")
    with RecordWriter(out) as writer:
        for position, completion in complete([prompts[index] for index in todo]):
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


def settings_path(out: Path) -> Path:
    """Where a results file's settings are kept: beside it, as NAME.settings.json."""
    return out.with_name(out.name + ".settings.json")


def _start_or_resume(out: Path, settings: dict[str, Any], resume: bool) -> list[dict[str, Any]]:
    """Records already in `out` (when resuming), after checking the run's settings match."""
    saved_settings = settings_path(out)
    settings = json.loads(json.dumps(settings))  # as it reads back (tuples become lists)
    if out.exists() and out.stat().st_size and not resume:
        raise RecordsError(f"{out} already holds results: pass --resume to continue that run, or choose another --out")
    if not (resume and out.exists()):
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(b"")
        saved_settings.write_text(json.dumps(settings, indent=2, sort_keys=True))
        return []
    if saved_settings.is_file():
        before = json.loads(saved_settings.read_text())
        changed = sorted(key for key in before.keys() | settings.keys() if before.get(key) != settings.get(key))
        if changed:
            raise RecordsError(f"cannot resume {out}: settings differ from the saved run in {', '.join(changed)}")
    return read_records(out, repair=True)
