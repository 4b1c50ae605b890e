"""The page's data for a GRPO or SFT run's samples log (`samples.jsonl`, written by
`training.metrics.MetricsLog`): one row per logged completion with its step, problem and reward."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reasoning.view.data import capped, text_cap, view_data

SAMPLES_FILE = "samples.jsonl"


def page_data(paths: Sequence[str | Path]) -> dict[str, Any]:
    """The page's data for what the command was given: one training run's samples log, or evaluation runs."""
    logs = [samples_log(path) for path in paths]
    if not any(logs):
        return view_data(paths)
    if len(paths) > 1:
        raise ValueError("a training samples log is viewed alone: give one samples.jsonl (or training run directory)")
    return {"runs": [], "paired": [], "training": training_data(logs[0])}


def samples_log(path: str | Path) -> Path | None:
    """The samples log `path` names: the file itself when it is a samples.jsonl, or the one inside
    a training run directory; None for anything else (an evaluation run or records file)."""
    path = Path(path)
    if path.is_file() and path.name == SAMPLES_FILE:
        return path
    return path / SAMPLES_FILE if path.is_dir() and (path / SAMPLES_FILE).is_file() else None


def training_data(path: str | Path) -> dict[str, Any]:
    """A samples log as rows (step, problem, reward, prompt and completion, capped as a run's texts are),
    in the order logged; a line that is not a JSON object with a step is refused, naming the line."""
    samples = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            sample = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} line {number}: not JSON ({error.msg})") from None
        if not isinstance(sample, dict) or "step" not in sample:
            raise ValueError(f"{path} line {number}: not a training sample (expected an object with a step)")
        samples.append(sample)
    if not samples:
        raise ValueError(f"{path} holds no training samples")
    cap = text_cap(len(samples))
    rows = [{"step": s["step"], "problem": _text(s.get("problem")), "reward": s.get("reward"),
             "prompt": capped(str(s.get("prompt") or ""), cap), "completion": capped(str(s.get("completion", s.get("text", ""))), cap)}
            for s in samples]  # fmt: skip
    return {"name": str(path), "samples": rows, "text_cap": cap}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
