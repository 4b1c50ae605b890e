"""The table of bad inputs: each row a command line (with the files it needs built first) that
must end in one line on stderr naming the problem, exit code 2, no traceback.

Rows live in per-topic lists (`errors_*.py` beside this file) and run through one
parametrized test in test_cli_errors.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ErrorCase:
    """`reasoning *argv` must fail with exit code 2 and one stderr line containing each of `words`
(after argparse's usage lines, with `usage`: a bad flag value is refused by the parser).

    argv and words may hold `{name}` fields, filled from what `setup(tmp_path, monkeypatch)`
    returns (a dict of paths or strings; `tmp` is always there). `after(tmp_path, values)` checks
    what the failure left behind (for example, no half-written directory)."""

    id: str
    argv: tuple[str, ...]
    words: tuple[str, ...]
    setup: Callable[[Path, Any], dict[str, Any]] | None = None
    after: Callable[[Path, dict[str, Any]], None] | None = field(default=None, compare=False)
    usage: bool = False
