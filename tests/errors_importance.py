"""Bad inputs of importance sampling against the sampler and off-policy masking (rows of
error_table): each refused before a model is built, nothing written."""

from __future__ import annotations

from pathlib import Path

from error_table import ErrorCase

TOY = ("train", "grpo", "--task", "toy-addition", "--out", "{tmp}/run")


def nothing_written(tmp: Path, values: dict) -> None:
    assert not (tmp / "run").exists()


CASES = [
    ErrorCase("grpo-tis-unknown", (*TOY, "--tis", "clip"), ("--tis", "invalid choice"), usage=True),
    ErrorCase("grpo-tis-level-unknown", (*TOY, "--tis-level", "batch"), ("--tis-level", "invalid choice"), usage=True),
    ErrorCase("grpo-tis-c-zero", (*TOY, "--tis-c", "0"), ("argument --tis-c: must be a number > 0",), usage=True),
    ErrorCase("grpo-off-policy-mask-negative", (*TOY, "--off-policy-mask", "-1"), ("argument --off-policy-mask",), usage=True),
    ErrorCase("grpo-tis-c-min-above-c", (*TOY, "--tis", "mask", "--tis-c-min", "3"), ("need 0 <= tis_c_min < tis_c",),
              after=nothing_written),
    ErrorCase("grpo-tis-under-top-p-and-temperature", (*TOY, "--tis", "truncate", "--temperature", "0.7", "--top-p", "0.9"),
              ("set temperature or top_p to 1",), after=nothing_written),
]  # fmt: skip
