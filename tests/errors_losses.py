"""Bad inputs of the policy objectives (`--loss`, `--importance-sampling` and their settings; rows of
error_table): each refused by the parser before a model is built."""

from __future__ import annotations

from error_table import ErrorCase

TOY = ("train", "grpo", "--task", "toy-addition", "--out", "{tmp}/run")

CASES = [
    ErrorCase("grpo-loss-unknown", (*TOY, "--loss", "ppo"), ("argument --loss: invalid choice: 'ppo'",), usage=True),
    ErrorCase("grpo-importance-sampling-unknown", (*TOY, "--importance-sampling", "batch"),
              ("argument --importance-sampling: invalid choice: 'batch'",), usage=True),
    ErrorCase("grpo-eps-max-zero", (*TOY, "--loss", "cispo", "--eps-max", "0"), ("argument --eps-max: must be a number > 0",), usage=True),
    ErrorCase("grpo-sapo-tau-neg-negative", (*TOY, "--sapo-tau-neg", "-1"), ("argument --sapo-tau-neg: must be a number > 0",), usage=True),
]  # fmt: skip
