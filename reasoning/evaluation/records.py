"""Evaluation records as JSON Lines: a settings header, then one line per problem, appended as
soon as it is graded.

The first line, `{"settings": {...}}`, holds the run's settings (model, decoding, prompt), so
they cannot be lost or swapped apart from the records they produced: a resume compares them
with its own and refuses a file whose settings cannot be read. A run killed at any moment
loses at most the line being written: on resume a torn last line is cut off, and every
complete line is kept and never redone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

HEADER_KEY = "settings"


class RecordsError(ValueError):
    """A results file that cannot be read or resumed; the message names the file and line."""


def read_run(
    path: str | Path, *, repair: bool = False, live: bool = False, required: tuple[str, ...] = ()
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The settings header (None if the file has none) and all records of a JSONL results file.

    A torn last line is an error, unless `repair` (cut it off the file) or `live` (leave it:
    another process may be writing it). A record without a `required` field is an error
    naming its line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file {path} not found")
    data = path.read_bytes()
    lines = data.split(b"\n")
    settings, records = None, []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            is_torn_tail = number == len(lines) and not data.endswith(b"\n")
            if is_torn_tail and repair:
                with path.open("r+b") as handle:
                    handle.truncate(len(data) - len(line))
            if is_torn_tail and (repair or live):
                break
            raise RecordsError(f"{path}, line {number}: not a JSON record ({error})") from None
        if number == 1 and isinstance(record, dict) and set(record) == {HEADER_KEY}:
            settings = record[HEADER_KEY]
            continue
        if not isinstance(record, dict) or "id" not in record:
            raise RecordsError(f"{path}, line {number}: a record must be an object with an 'id'")
        missing = [field for field in required if field not in record]
        if missing:
            raise RecordsError(f"{path}, line {number}: the record has no {missing[0]!r} field")
        records.append(record)
    return settings, records


def resume_records(path: str | Path, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The records already in `path` (a torn last line cut off), after checking that its
    settings header equals `settings`: one file never mixes two experiments."""
    saved, records = read_run(path, repair=True)
    if saved is None:
        raise RecordsError(
            f"cannot resume {path}: its first line holds no run settings, so they cannot be checked against "
            "this run's; choose another --out"
        )
    changed = sorted(key for key in saved.keys() | settings.keys() if saved.get(key) != settings.get(key))
    if changed:
        differences = "; ".join(f"{key} saved {_shown(saved, key)}, now {_shown(settings, key)}" for key in changed)
        raise RecordsError(f"cannot resume {path}: settings differ from the saved run: {differences}")
    return records


def _shown(settings: dict[str, Any], key: str) -> str:
    return json.dumps(settings[key], ensure_ascii=False) if key in settings else "(not set)"


def holds_records(path: str | Path) -> bool:
    """Whether a results file holds at least one record beyond its settings header (a run that
    failed before its first record left only the header, and a rerun may start it afresh)."""
    path = Path(path)
    if not path.is_file():
        return False
    with path.open("rb") as handle:
        first = handle.readline()
        try:
            is_header = set(json.loads(first)) == {HEADER_KEY}
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError):
            is_header = False
        return bool(first.strip()) and not is_header or any(line.strip() for line in handle)


class RecordWriter:
    """Appends one record per line and flushes it to disk at once.

    With `settings`, the file is started afresh with its settings header."""

    def __init__(self, path: str | Path, *, settings: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a" if settings is None else "w", encoding="utf-8")
        if settings is not None:
            self.write({HEADER_KEY: settings})

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_records(path: str | Path, records: list[dict[str, Any]], settings: dict[str, Any] | None) -> None:
    """Replace a results file with its settings header and `records`, atomically (a temporary
    file, then a rename)."""
    path = Path(path)
    lines = ([{HEADER_KEY: settings}] if settings is not None else []) + records
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), encoding="utf-8")
    except BaseException:  # a full disk: no half-written temporary file is left behind
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)
