"""Bad inputs of `eval score --cross-check` (rows of error_table)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from error_table import ErrorCase

RECORD = {
    "id": "p0", "index": 0, "question": "1 + 1?", "gold": "2", "prompt": "1 + 1?", "correct": 1, "groups": [0],
    "samples": [{"text": "\\boxed{2}", "extracted": "2", "correct": True, "grade": {"method": "string", "reason": ""},
                 "tokens": 3, "finish_reason": "eos"}],
}  # fmt: skip


def without_math_verify(tmp: Path, monkeypatch) -> dict:
    """A records file, and math-verify not importable (as where the extra is not installed)."""
    monkeypatch.setitem(sys.modules, "math_verify", None)
    results = tmp / "sums.jsonl"
    results.write_text(json.dumps({"settings": {"task": "sums", "task_kind": "math"}}) + "\n" + json.dumps(RECORD) + "\n")
    return {"results": results}


def results_unchanged(tmp: Path, values: dict) -> None:
    """Refused before any grading: the records are not rewritten, even with --write."""
    assert json.loads(values["results"].read_text().splitlines()[1]) == RECORD


CASES = [
    ErrorCase("score-cross-check-without-math-verify", ("eval", "score", "{results}", "--cross-check", "--write"),
              ("the cross-check needs math-verify", "pip install 'reasoning[verify]'"), without_math_verify, results_unchanged),
]  # fmt: skip
