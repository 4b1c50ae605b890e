"""Evaluation records as JSON Lines: one line per problem, appended as soon as it is graded.

A run killed at any moment loses at most the line being written: on resume a torn last line
is cut off, and every complete line is kept and never redone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class RecordsError(ValueError):
    """A results file that cannot be read or resumed; the message names the file and line."""


def read_records(path: str | Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """All records of a JSONL results file. With `repair`, a torn last line is cut off the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file {path} not found")
    data = path.read_bytes()
    lines = data.split(b"\n")
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            is_torn_tail = number == len(lines) and not data.endswith(b"\n")
            if is_torn_tail and repair:
                with path.open("r+b") as handle:
                    handle.truncate(len(data) - len(line))
                break
            raise RecordsError(f"{path}, line {number}: not a JSON record ({error})") from None
        if not isinstance(record, dict) or "id" not in record:
            raise RecordsError(f"{path}, line {number}: a record must be an object with an 'id'")
        records.append(record)
    return records


class RecordWriter:
    """Appends one record per line and flushes it to disk at once."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")

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


def write_records(path: str | Path, records: list[dict[str, Any]]) -> None:
    """Replace a results file with `records` atomically (write a temporary file, then rename)."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    os.replace(temporary, path)
