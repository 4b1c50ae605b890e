"""Records of small made-up runs for the viewer's tests, written in the evaluation's record format."""

from __future__ import annotations

import json
from pathlib import Path

HOSTILE = "</script><script>document.title='pwned'</script><img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"


def sample(text: str, extracted: str | None, correct: bool, *, tokens: int = 10, finish_reason: str = "stop") -> dict:
    grade = {"method": "math", "reason": "equal" if correct else "differs"}
    return {"text": text, "extracted": extracted, "correct": correct, "grade": grade, "tokens": tokens, "finish_reason": finish_reason}


def record(index: int, samples: list[dict], groups: list[int | None], *, gold: str = "2", subject: str = "Algebra") -> dict:
    return {"id": f"p{index}", "index": index, "question": f"What is {index} + 1?", "gold": gold, "subject": subject,
            "level": 1 + index % 5, "meta": {}, "prompt": "", "samples": samples, "groups": groups,
            "correct": sum(s["correct"] for s in samples), "tokens": sum(s["tokens"] for s in samples), "seconds": 0.1}  # fmt: skip


def small_run() -> list[dict]:
    """Four problems of two samples: all right; one wrong (a disagreement); both wrong and cut by
    the token budget with the thinking unfinished; and one right whose answer is hostile HTML."""
    return [
        record(0, [sample("<think>1+1</think>The answer is \\boxed{2}", "2", True)] * 2, [0, 0]),
        record(1, [sample("<think>hm</think>\\boxed{2}", "2", True), sample("<think>hm</think>\\boxed{3}", "3", False)], [0, 1]),
        record(2, [sample("<think>long and longer", None, False, finish_reason="length")] * 2, [None, None]),
        record(3, [sample(f"<think>{HOSTILE}</think>{HOSTILE} \\boxed{{2}}", "2", True)] * 2, [0, 0]),
    ]


def write_records(path: Path, records: list[dict], task: str = "math500") -> Path:
    """A records file: the settings header, then one record a line."""
    lines = [{"settings": {"task": task, "model": "tiny"}}, *records]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def write_training_samples(out_dir: Path) -> Path:
    """A GRPO run directory's samples log as training.metrics.MetricsLog writes it (steps 1 and 2, two completions each)."""
    from reasoning.training.metrics import MetricsLog

    log = MetricsLog(out_dir, ("step", "reward_mean"))
    for step in (1, 2):
        completion = f"<think>try {step}</think>{HOSTILE}"
        samples = [{"step": step, "problem": f"p{i}", "reward": 0.5 * i + step, "completion": completion} for i in range(2)]
        log.append({"step": step, "reward_mean": 1.0}, samples)
    return out_dir / "samples.jsonl"
