"""Reasoning traces: a teacher's thinking and answer to one problem, as records and JSON Lines.

One trace per line:
`{"id", "problem_id", "problem", "thinking", "answer", "gold", "teacher", "meta"}`. The thinking
is what the teacher wrote inside <think>...</think>, without the tags ("" for a teacher that
does not think); the answer is the visible reply after </think>. Keeping them apart lets a
student's chat template put them back in its own format. Traces made elsewhere read the same
way: `problem`, `thinking` and `answer` are required, every other field is optional, and
fields this format does not name are kept in `meta`. A bad record raises `DatasetError`
naming the file, the line and the field.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reasoning.data import DatasetError, read_jsonl, short_repr
from reasoning.evaluation.records import write_records
from reasoning.vocab import control_token_in

THINK_START, THINK_END = "<think>", "</think>"
REQUIRED = ("problem", "thinking", "answer")
OPTIONAL = ("id", "problem_id", "gold", "teacher", "meta")


@dataclass(frozen=True)
class Trace:
    """One solution by a teacher: the problem, its reasoning and its answer, stored apart."""

    problem: str
    thinking: str  # inside <think>...</think>, tags left out; "" for a teacher that does not think
    answer: str  # the visible reply after </think>; for math it holds the final \boxed{...}
    id: str
    problem_id: str | None = None
    gold: str | None = None  # the reference answer, where known
    teacher: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, hash=False)  # the record's other fields

    def __post_init__(self) -> None:
        for name in ("problem", "answer", "id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"field {name!r} must be a non-empty string, got {short_repr(value)}")
        if not isinstance(self.thinking, str):
            raise ValueError(f"field 'thinking' must be a string ('' for none), got {short_repr(self.thinking)}")
        for name in ("thinking", "answer"):
            if THINK_START in getattr(self, name) or THINK_END in getattr(self, name):
                raise ValueError(f"field {name!r} must not contain {THINK_START} or {THINK_END} tags (store the text between them)")
        for name in ("problem", "thinking", "answer"):
            if token := control_token_in(getattr(self, name)):
                raise ValueError(f"field {name!r} holds the control token {token}, which would end or open a turn mid-text")
        for name in ("problem_id", "gold", "teacher"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ValueError(f"field {name!r} must be a string or null, got {short_repr(getattr(self, name))}")
        if not isinstance(self.meta, dict):
            raise ValueError(f"field 'meta' must be an object, got {short_repr(self.meta)}")

    def to_record(self) -> dict[str, Any]:
        """The JSON record of this trace (what `read_traces` reads back as an equal trace)."""
        record = {"id": self.id, "problem_id": self.problem_id, "problem": self.problem, "thinking": self.thinking,
                  "answer": self.answer, "gold": self.gold, "teacher": self.teacher}  # fmt: skip
        return {**record, "meta": self.meta} if self.meta else record


def split_completion(text: str) -> tuple[str, str] | None:
    """(thinking, answer) of a completion that reads "<think>...</think>answer", both stripped.

    The opening tag may be missing (the prompt opened it). A completion without any tag is a
    teacher that does not think: ("", the text). None when the thinking never closed (the
    trace is unfinished) or the tags are out of place (a second <think> or </think>), since
    such a trace cannot be stored apart. Linear: only `str.find` and `in`, no regex.
    """
    close = text.find(THINK_END)
    if close < 0:
        return None if THINK_START in text else ("", text.strip())
    thinking, answer = text[:close].strip(), text[close + len(THINK_END) :]
    if thinking.startswith(THINK_START):
        thinking = thinking[len(THINK_START) :]
    if THINK_START in thinking or THINK_START in answer or THINK_END in answer:
        return None
    return thinking.strip(), answer.strip()


def dedup_key(trace: Trace) -> tuple[str, str, str]:
    """What makes two traces the same: problem, thinking and answer with whitespace collapsed."""
    return " ".join(trace.problem.split()), " ".join(trace.thinking.split()), " ".join(trace.answer.split())


def deduplicate(traces: Iterable[Trace]) -> list[Trace]:
    """The traces with each `dedup_key` kept once, at its first place."""
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for trace in traces:
        key = dedup_key(trace)
        if key not in seen:
            seen.add(key)
            unique.append(trace)
    return unique


def read_traces(path: str | Path, *, dedup: bool = True) -> list[Trace]:
    """Read and validate the traces of a JSON Lines file (blank lines skipped).

    A trace without an id gets `<problem_id>#<k>` (its problem's k-th trace in the file, from
    0) or `line-<N>`, so ids are the same at every reading. With `dedup`, repeated traces
    (see `dedup_key`) are dropped after the first.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetError(f"trace file not found: {path}" + (" (it is a directory)" if path.is_dir() else ""))
    traces: list[Trace] = []
    seen: dict[str, str] = {}  # id -> where it was first seen
    per_problem: dict[str, int] = {}
    for where, record in read_jsonl(path):
        trace = _to_trace(where, record, per_problem)
        if trace.id in seen:
            raise DatasetError(f"{where}: duplicate id {trace.id!r} (first seen at {seen[trace.id]})")
        seen[trace.id] = where
        traces.append(trace)
    return deduplicate(traces) if dedup else traces


def write_traces(path: str | Path, traces: Iterable[Trace]) -> None:
    """Replace `path` with the traces, one JSON line each, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_records(path, [trace.to_record() for trace in traces], settings=None)


def _to_trace(where: str, record: Any, per_problem: dict[str, int]) -> Trace:
    """Validate one raw record and build its `Trace`; errors name `where` and the field."""
    if not isinstance(record, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(record).__name__}")
    missing = [name for name in REQUIRED if name not in record]
    if missing:
        raise DatasetError(f"{where}: missing field {missing[0]!r} (fields: {', '.join(map(repr, record)) or 'none'})")
    meta = {} if record.get("meta") is None else record["meta"]
    if not isinstance(meta, dict):
        raise DatasetError(f"{where}: field 'meta' must be an object, got {short_repr(meta)}")
    values = {name: _as_text(where, name, record.get(name)) for name in ("id", "problem_id", "gold")}
    if values["id"] is None:
        problem_id = values["problem_id"]
        count = per_problem.get(problem_id, 0) if problem_id is not None else 0
        line = where.rsplit(" ", 1)[-1]  # `where` reads "file, line N"
        values["id"] = f"{problem_id}#{count}" if problem_id is not None else f"line-{line}"
    if values["problem_id"] is not None:
        per_problem[values["problem_id"]] = per_problem.get(values["problem_id"], 0) + 1
    extras = {key: value for key, value in record.items() if key not in REQUIRED + OPTIONAL}
    try:
        return Trace(**{name: record[name] for name in REQUIRED}, **values, teacher=record.get("teacher"), meta={**meta, **extras})
    except ValueError as error:
        raise DatasetError(f"{where}: {error}") from None


def _as_text(where: str, name: str, value: Any) -> str | None:
    """An id or gold answer as a string: numbers from other tools' files are written out."""
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    if (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    raise DatasetError(f"{where}: field {name!r} must be a non-empty string, a number or null, got {short_repr(value)}")
