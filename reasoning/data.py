"""Problem records and their loaders: MATH-500, and any JSON, JSON Lines or hub dataset.

Every source becomes a list of the same frozen `Problem`, so evaluation and RL share one
type. Records are validated as they are read: a bad one raises `DatasetError` naming where
it is (`file.jsonl, line 7` for JSON Lines, `file.json[6]` for a JSON list, `org/name
(train)[6]` for a hub dataset) and the field at fault.

Accepted sources:
- `.jsonl`: one JSON object per line; blank lines are skipped, lines are counted from 1.
- `.json`: one JSON list of objects (nothing else, e.g. no `{"data": [...]}` wrapper, so a
  file has one obvious reading). A `.json` file holding JSON Lines, as
  `datasets.Dataset.to_json` writes by default, is read as JSON Lines.
- a hub dataset name (`"name"` or `"org/name"`), loaded with `datasets.load_dataset`,
  which caches it on disk; without network and cache, `HubUnavailableError`.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any

from reasoning import hub
from reasoning.hub import HubUnavailableError

MATH500_REPO = "HuggingFaceH4/MATH-500"
FILE_SUFFIXES = (".json", ".jsonl")
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


class DatasetError(ValueError):
    """A malformed dataset file or record; the message names the file and line (or index)."""


@dataclass(frozen=True)
class Problem:
    """One question with its reference answer; MATH-500 also fills subject, level and solution."""

    id: str
    question: str
    answer: str
    subject: str | None = None
    level: int | None = None
    solution: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, hash=False)  # the record's other fields


def load_math500(path: str | Path | None = None, *, limit: int | None = None) -> list[Problem]:
    """Load MATH-500 from a local JSON/JSONL copy, or from the hub when no path is given."""
    source = MATH500_REPO if path is None else Path(path)
    problems = load_problems(source, question_field="problem", id_field="unique_id", split="test", limit=limit)
    return [_with_math_fields(problem) for problem in problems]


def load_problems(
    source: str | Path,
    *,
    question_field: str = "question",
    answer_field: str | None = "answer",
    id_field: str | None = None,
    split: str = "train",
    config: str | None = None,
    limit: int | None = None,
) -> list[Problem]:
    """Load and validate problems from a .json/.jsonl file or a hub dataset (`split`, `config`).

    Answers that are numbers become strings. With `answer_field=None` the answer is left empty
    for the caller to read from `meta` (a benchmark whose gold is a list, or four options).
    Without `id_field`, or when the first record lacks it (a file of your own problems), a
    problem's id is its index in the source (from 0, blank lines not counted). Fields other
    than the question, answer and id are kept in `Problem.meta`. `limit` keeps the first
    `limit` records.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, got {limit}")
    problems: list[Problem] = []
    seen: dict[str, str] = {}  # id -> where it was first seen
    for index, (where, record) in enumerate(islice(_records(source, split, config), limit)):
        if index == 0 and isinstance(record, dict) and id_field not in record:
            id_field = None  # numbered
        problem = _to_problem(where, record, index, question_field, answer_field, id_field)
        if problem.id in seen:
            raise DatasetError(f"{where}: duplicate id {problem.id!r} (first seen at {seen[problem.id]})")
        seen[problem.id] = where
        problems.append(problem)
    return problems


def _with_math_fields(problem: Problem) -> Problem:
    """Move MATH's subject, level and solution from `meta` to their own fields."""
    meta = dict(problem.meta)
    return replace(
        problem,
        subject=meta.pop("subject", None),
        level=meta.pop("level", None),
        solution=meta.pop("solution", None),
        meta=meta,
    )


def _records(source: str | Path, split: str, config: str | None) -> Iterator[tuple[str, Any]]:
    """Yield (where, raw record) from a local file or, for a hub name, from the hub."""
    if _is_hub_name(source):
        return _read_hub(str(source), split, config)
    path = Path(source).expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; expected a .json or .jsonl file or a hub dataset name")
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path}")
    if path.suffix.lower() == ".jsonl":
        return read_jsonl(path)
    if path.suffix.lower() == ".json":
        return _read_json(path)
    raise DatasetError(f"{path}: unsupported file type {path.suffix!r}; expected one of {', '.join(FILE_SUFFIXES)}")


def _is_hub_name(source: str | Path) -> bool:
    """True for "name" or "org/name" strings that are not local paths or .json/.jsonl names."""
    if isinstance(source, Path) or source.lower().endswith(FILE_SUFFIXES) or Path(source).expanduser().exists():
        return False
    return _HUB_NAME.fullmatch(source) is not None


def read_jsonl(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield one record per non-blank line, lazily, so `limit` stops reading early."""
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            where = f"{path}, line {number}"
            line = _decode(raw, where, bom=number == 1)
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DatasetError(f"{where}: invalid JSON ({error.msg} at column {error.colno})") from None
            yield where, record


def _read_json(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield the records of a JSON list (or of JSON Lines saved under a .json name)."""
    text = _decode(path.read_bytes(), str(path), bom=True)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        if text.lstrip().startswith("{"):  # JSON Lines, as `Dataset.to_json` writes by default
            return read_jsonl(path)
        raise DatasetError(f"{path}, line {error.lineno}: invalid JSON ({error.msg})") from None
    if not isinstance(data, list):
        raise DatasetError(
            f"{path}: expected a JSON list of records, got a JSON {type(data).__name__} "
            f"(for one record per line, name the file .jsonl)"
        )
    return ((f"{path}[{index}]", record) for index, record in enumerate(data))


def _decode(data: bytes, where: str, *, bom: bool) -> str:
    """UTF-8 text of `data` (a leading byte-order mark dropped when `bom`), or a `DatasetError` at `where`."""
    try:
        return data.decode("utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError as error:
        raise DatasetError(f"{where}: not UTF-8 text (byte {error.start}: {error.reason}); save the file as UTF-8") from None


def _read_hub(name: str, split: str, config: str | None) -> Iterator[tuple[str, Any]]:
    """Yield the records of a hub dataset split; `datasets` serves it from its cache if it can,
    and only from its cache when the hub cannot be reached (so no retries are waited for)."""
    import datasets  # heavy (pyarrow, pandas): only the hub path pays for it

    online = hub.hub_reachable()
    try:
        with contextlib.nullcontext() if online else hub.offline_mode():
            rows = datasets.load_dataset(name, config, split=split)
    except ConnectionError as error:
        raise HubUnavailableError(
            f"cannot load dataset {name!r}: {hub.why_unavailable()} and it is "
            f"not in the local cache; pass the path of a local .json or .jsonl copy instead",
            name=name,
        ) from error
    return ((f"{name} ({split})[{index}]", record) for index, record in enumerate(rows))


def _to_problem(
    where: str, record: Any, index: int, question_field: str, answer_field: str | None, id_field: str | None
) -> Problem:
    """Validate one raw record and build its `Problem`; errors name `where` and the field."""
    if not isinstance(record, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(record).__name__}")
    question = _get(where, record, question_field)
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(f"{where}: field {question_field!r} must be a non-empty string, got {short_repr(question)}")
    answer = "" if answer_field is None else _get(where, record, answer_field)
    if answer_field is not None and not _is_answer(answer):
        raise DatasetError(
            f"{where}: field {answer_field!r} must be a non-empty string or a finite number, got {short_repr(answer)}"
        )
    if id_field is None:
        problem_id = str(index)
    else:
        problem_id = _get(where, record, id_field)
        if isinstance(problem_id, bool) or not isinstance(problem_id, (str, int)) or not str(problem_id).strip():
            raise DatasetError(
                f"{where}: field {id_field!r} must be a non-empty string or an integer, got {short_repr(problem_id)}"
            )
    meta = {key: value for key, value in record.items() if key not in (question_field, answer_field, id_field)}
    return Problem(id=str(problem_id), question=question, answer=str(answer), meta=meta)


def _get(where: str, record: dict[str, Any], name: str) -> Any:
    """The value of field `name`, or a `DatasetError` listing the fields the record has."""
    if name not in record:
        raise DatasetError(f"{where}: missing field {name!r} (fields: {', '.join(map(repr, record)) or 'none'})")
    return record[name]


def _is_answer(value: Any) -> bool:
    """A reference answer is a non-blank string or a finite int/float (bools are not numbers here)."""
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


def short_repr(value: Any) -> str:
    """A short repr for error messages, so one huge field does not flood the terminal."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
