"""The README's offline walk-through runs as written: the tiny checkpoint, then `eval run` on MATH-500 and on two benchmarks."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

from reasoning.cli import main
from reasoning.evaluation.rundir import read_task

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = "<!-- tiny-checkpoint"


def readme_block_after(marker: str) -> str:
    """The fenced code block that follows `marker` in the README."""
    text = README.read_text()
    start = text.index("```python\n", text.index(marker)) + len("```python\n")
    return text[start : text.index("```", start)]


def readme_command(prefix: str) -> list[str]:
    """The arguments of the README's indented command line that starts with `prefix`."""
    line = next(line.strip() for line in README.read_text().splitlines() if line.strip().startswith(prefix))
    return shlex.split(line, comments=True)[1:]  # without the program name or a trailing comment


def test_the_tiny_checkpoint_block_and_its_eval_command_run_offline(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_block_after(MARKER), "README.md", "exec"), {})  # our own README, not model output
    assert (tmp_path / "tiny-qwen3" / "config.json").is_file()
    assert (tmp_path / "tiny-qwen3" / "model.safetensors").stat().st_size < 60e6  # "small", as the README says

    rows = [
        {"problem": f"What is {k} + {k}?", "solution": "", "answer": str(2 * k), "subject": "Algebra", "level": 1,
         "unique_id": f"test/algebra/{k}.json"}
        for k in range(6)
    ]  # fmt: skip
    (tmp_path / "math500_test.json").write_text(json.dumps(rows))
    args = readme_command("reasoning eval run --bench math500 --model tiny-qwen3")
    assert main(args) == 0
    settings, records = read_task(tmp_path / "tiny", "math500")
    assert len(records) == 5 and settings["model"] == str(tmp_path / "tiny-qwen3") and settings["max_new_tokens"] == 32
    assert all(0 < record["tokens"] <= 32 for record in records)
    assert "pass@1" in capsys.readouterr().out

    shutil.copytree(README.parent / "tests" / "data" / "benchmarks", tmp_path / "tests" / "data" / "benchmarks")
    assert main(readme_command("reasoning eval run --bench gsm8k,mmlu-stem --model tiny-qwen3")) == 0
    summary = json.loads((tmp_path / "tiny-run" / "summary.json").read_text())
    assert [summary[b]["problems"] for b in ("gsm8k", "mmlu-stem")] == [3, 3] and summary["gsm8k"]["samples"] == 4
    printed = capsys.readouterr().out
    assert "pass@k" in printed and [line.split()[:2] for line in printed.splitlines() if line.startswith("gsm8k ")][2] == ["gsm8k", "4"]
