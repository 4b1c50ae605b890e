"""The layout of an evaluation run: one records file per task, per rank, and `summary.json`.

A run directory holds `<task>.jsonl` (a settings header, then one record per problem), or
`<task>.rank<R>.jsonl` per rank under torchrun, and `summary.json` with every task's figures.
A single records file is also a run (of the one task its header names), and results files of
the former `eval math500` (one completion per line) read as one-sample records.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reasoning.distributed import World
from reasoning.evaluation.records import RecordsError, read_run
from reasoning.evaluation.summary import summarize

SUMMARY_FILE = "summary.json"
_NEEDED = ("index", "samples", "groups")


def records_path(out_dir: str | Path, task: str, world: World = World()) -> Path:
    """The file this process writes a task's records to."""
    name = f"{task}.jsonl" if world.world_size == 1 else f"{task}.rank{world.rank}.jsonl"
    return Path(out_dir) / name


def task_files(out_dir: str | Path, task: str) -> list[Path]:
    """A task's record files in a run directory: one, or one per rank."""
    out_dir = Path(out_dir)
    single = out_dir / f"{task}.jsonl"
    return ([single] if single.is_file() else []) + sorted(out_dir.glob(f"{task}.rank*.jsonl"))


def tasks_in(out_dir: str | Path) -> list[str]:
    """The tasks a run directory holds records of, by name."""
    return sorted({path.name.split(".")[0] for path in Path(out_dir).glob("*.jsonl")})


def read_task(out_dir: str | Path, task: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The settings and all records of one task in a run directory, merged over ranks, in problem order."""
    files = task_files(out_dir, task)
    if not files:
        raise FileNotFoundError(f"{out_dir} holds no records of {task} ({task}.jsonl)")
    settings, records, seen = None, [], {}
    for path in files:
        saved, rows = read_records_file(path)
        if settings is not None and saved != settings:
            raise RecordsError(f"{path}: its settings differ from {files[0].name}'s")
        settings = saved
        for record in rows:
            if record["id"] in seen:
                raise RecordsError(f"{path}: problem {record['id']!r} is also in {seen[record['id']]}")
            seen[record["id"]] = path.name
            records.append(record)
    return settings, sorted(records, key=lambda record: record["index"])


def read_records_file(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One records file's settings and records; a former `eval math500` file's lines upgraded.
    A record without a field its format needs is an error naming its line."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"results file {path} not found")
    header, first = _head(Path(path))
    if header is None:
        raise RecordsError(f"{path}: no settings header, so its records cannot be trusted to belong to one run")
    former = first is not None and "completion" in first and "samples" not in first
    saved, rows = read_run(path, required=("completion", "correct") if former else _NEEDED)
    if former:
        return {"task": "math500", **saved}, [_upgraded(row, index) for index, row in enumerate(rows)]
    return saved, rows


def _head(path: Path) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The settings header and the first record of a records file, from its first two lines only
    (None where a line is missing or not a JSON object; read_run reports what is wrong)."""
    with path.open("rb") as handle:
        lines = [handle.readline(), handle.readline()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError):
            parsed.append(None)
    parsed = [value if isinstance(value, dict) else None for value in parsed] + [None, None]
    if parsed[0] is not None and set(parsed[0]) == {"settings"}:
        return parsed[0]["settings"], parsed[1]
    return None, parsed[0]


def _upgraded(row: dict[str, Any], index: int) -> dict[str, Any]:
    """A line of the former `eval math500` format (the strategy's one graded completion, its
    details beside it) as a one-sample record, so its accuracy reads as it was reported."""
    fields = ("id", "subject", "level", "prompt", "completion", "extracted", "gold", "correct", "grade", "tokens", "seconds")
    sample = {
        "text": row["completion"], "extracted": row.get("extracted"), "correct": bool(row["correct"]),
        "grade": row.get("grade", {}), "tokens": row.get("tokens", 0), "finish_reason": row.get("finish_reason", "unknown"),
    }  # fmt: skip
    return {
        "id": row["id"], "index": index, "question": "", "gold": row.get("gold"), "subject": row.get("subject"),
        "level": row.get("level"), "meta": {}, "prompt": row.get("prompt", ""), "samples": [sample],
        "groups": [0 if sample["extracted"] is not None else None], "correct": int(sample["correct"]),
        "tokens": row.get("tokens", 0), "seconds": row.get("seconds", 0.0),
        **({"details": {k: v for k, v in row.items() if k not in fields}} if set(row) - set(fields) else {}),
    }  # fmt: skip


def read_results(path: str | Path) -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
    """{task: (settings, records)} of a run directory, or of one records file (named by the task
    its header names, else by the file's stem)."""
    path = Path(path)
    if path.is_dir():
        names = tasks_in(path)
        if not names:
            raise ValueError(f"{path} holds no records (<task>.jsonl files)")
        return {name: read_task(path, name) for name in names}
    settings, records = read_records_file(path)
    return {settings.get("task", path.stem.split(".")[0]): (settings, records)}


def write_summary(
    out_dir: str | Path, tasks: Sequence[str] | None = None, *, problems: dict[str, Sequence[str]] | None = None
) -> dict[str, dict[str, Any]]:
    """Summarise every task of a run directory into out_dir/summary.json (atomically); returns
    {task: its summary, with its settings}. `problems` ({task: ids}) limits a task's summary to
    those problems: a run resumed with a smaller --limit reports on the problems it was asked for,
    not on every problem recorded before."""
    out_dir = Path(out_dir)
    summaries = {}
    for task in tasks if tasks is not None else tasks_in(out_dir):
        settings, records = read_task(out_dir, task)
        if problems is not None and task in problems:
            wanted = set(problems[task])
            records = [record for record in records if record["id"] in wanted]
        if records:
            summaries[task] = {**summarize(records), "settings": settings}
    temporary = out_dir / (SUMMARY_FILE + ".tmp")
    temporary.write_text(json.dumps(summaries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, out_dir / SUMMARY_FILE)
    return summaries
