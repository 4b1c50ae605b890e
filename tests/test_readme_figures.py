"""The README's offline figures come from the commands printed beside them: each test runs the
command as the README writes it, checks what the README claims of it, and compares the printed
figures with the README's where this machine computes as the README's did (`figures`).
Chapter 8's figures are compared in tests/test_chapters.py, by the test that runs the chapter."""

from __future__ import annotations

import re

import pytest

from figures import readme_figures, same_machine_as_the_readme
from reasoning.cli import main
from reasoning.training.metrics import read_metrics


def readme_command(prefix: str) -> list[str]:
    """The README's indented command line that starts with `prefix`, without the program name."""
    from test_readme import readme_command as command

    return command(prefix)


def compare_exactly(printed: tuple, readme: tuple, what: str, reason: str | None) -> None:
    """Fail where the command's figures differ from the README's; skip, saying why (`reason`),
    where this machine does not compute as the README's did."""
    if reason is not None:
        pytest.skip(f"{what}: not compared exactly, {reason}")
    assert printed == readme, f"{what}: the command prints {printed}, the README says {readme}: re-measure and update the README"


@pytest.mark.slow  # 150 GRPO steps of 40 x 16 completions: about 50 s
def test_the_toy_grpo_reward_rises_as_the_readme_says(tmp_path, monkeypatch, capsys):
    reason = same_machine_as_the_readme()
    monkeypatch.chdir(tmp_path)
    args = readme_command("reasoning train grpo --task toy-addition --out runs/toy")
    assert main(args) == 0
    printed = capsys.readouterr().out
    first, last = map(float, re.search(r"^mean reward (0\.\d+) over the first 5 steps, (0\.\d+) over the last 10 \(of 150\)$",
                                       printed, re.M).groups())  # fmt: skip
    rows = read_metrics(tmp_path / "runs" / "toy" / "metrics.csv")
    rewards = [row["reward_mean"] for row in rows]
    assert (first, last) == (round(sum(rewards[:5]) / 5, 3), round(sum(rewards[-10:]) / 10, 3))  # the printed means are the rows'
    assert 0 < first < 0.3 and last > 0.8 and rows[-1]["entropy"] < rows[0]["entropy"]  # learned, and the policy sharpened
    readme = readme_figures(r"lifts the mean sampled reward from (0\.\d+) over the first 5 steps to (0\.\d+) over the last 10 of 150")
    compare_exactly((first, last), readme, "toy GRPO reward", reason)


def test_the_toy_sft_student_reaches_the_readmes_held_out_accuracy(tmp_path, monkeypatch, capsys):
    reason = same_machine_as_the_readme()
    monkeypatch.chdir(tmp_path)
    assert main([*readme_command("reasoning train sft --task toy-addition"), "--out", "sft"]) == 0
    last = [line for line in capsys.readouterr().out.splitlines() if line.startswith("step")][-1]
    accuracy = float(re.search(r"eval-acc (\d\.\d+)", last).group(1))
    rows = read_metrics(tmp_path / "sft" / "metrics.csv")
    assert accuracy == round(rows[-1]["eval_accuracy"], 3) and accuracy > 0.5
    correct, percent = readme_figures(r"fine-tuned on one correct trace of each of the 88 training sums \(preset `toy`: 180 steps\), it answers (\d+) \((\d+)%\)")
    assert round(100 * correct / 12) == percent
    compare_exactly((round(accuracy * 12),), (correct,), "toy SFT held-out sums answered", reason)
