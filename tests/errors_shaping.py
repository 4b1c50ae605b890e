"""Bad inputs of GRPO's reward shaping and of `--report-to` (rows of error_table): each refused
before a model is built, and a tracker whose package is missing says how to install it."""

from __future__ import annotations

from pathlib import Path

from error_table import ErrorCase

TOY = ("train", "grpo", "--task", "toy-addition", "--out", "{tmp}/run")


def no_tracker_package(tmp: Path, monkeypatch) -> dict:
    """As on a machine without the tracker's package."""
    from reasoning.training import tracking

    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name: None)
    return {}


def nothing_written(tmp: Path, values: dict) -> None:
    assert not (tmp / "run").exists()


CASES = [
    ErrorCase("grpo-report-to-missing-package", (*TOY, "--report-to", "tensorboard"),
              ("--report-to tensorboard needs the tensorboard package", "pip install 'reasoning[tensorboard]'"),
              setup=no_tracker_package, after=nothing_written),
    ErrorCase("sft-report-to-missing-package", ("train", "sft", "--task", "toy-addition", "--report-to", "trackio", "--out", "{tmp}/run"),
              ("pip install 'reasoning[trackio]'",), setup=no_tracker_package, after=nothing_written),
    ErrorCase("grpo-report-to-unknown", (*TOY, "--report-to", "wandb"), ("--report-to", "invalid choice"), usage=True),
    ErrorCase("grpo-reward-normalisation-unknown", (*TOY, "--reward-normalisation", "sum"),
              ("argument --reward-normalisation: invalid choice",), usage=True),
    ErrorCase("grpo-overlong-cache-over-budget", (*TOY, "--overlong-cache", "9"),
              ("overlong_cache <= max_new_tokens (8)",), after=nothing_written),
    ErrorCase("grpo-length-penalty-negative", (*TOY, "--length-penalty", "-1"),
              ("argument --length-penalty: must be a number >= 0",), usage=True),
]  # fmt: skip
