"""GRPO's metrics: the columns of its rows (written by `reasoning.training.metrics.MetricsLog`)
and the summary of a run's rewards.

The columns, each reduced over ranks by name: reward_mean, reward_std (population), accuracy,
format and response_length (tokens) over every completion scored in the step, skipped and
refill groups included; truncated, the share cut by the token budget; loss and kl, aggregated
as the loss is, averaged over the mu passes; clip_fraction, the share of loss tokens whose
ratio was clipped, over all passes; entropy, the mean over loss tokens (first pass);
grad_norm, before clipping (mean over passes); groups_used, the groups trained on;
groups_skipped, those left out for equal rewards (dynamic sampling); rollout_tokens;
eval_accuracy, the periodic held-out evaluation's.
"""

from __future__ import annotations

from typing import Any

COLUMNS = (
    "step", "reward_mean", "reward_std", "accuracy", "format", "response_length", "truncated", "kl", "clip_fraction",
    "entropy", "grad_norm", "loss", "groups_used", "groups_skipped", "rollout_tokens", "tokens_per_s", "seconds",
    "rollout_seconds", "eval_accuracy",
)  # fmt: skip
TIMING = ("tokens_per_s", "seconds", "rollout_seconds")  # the columns that differ between identical runs


def reward_trend(rows: list[dict[str, Any]], first: int = 5, last: int = 10) -> str:
    """The mean reward of the first and of the last steps of a run, in words (what a run's
    summary line and the README quote)."""
    rewards = [row["reward_mean"] for row in sorted(rows, key=lambda row: row["step"])]
    if not rewards:
        raise ValueError("no steps to summarise")
    head, tail = rewards[:first], rewards[-last:]
    return (
        f"mean reward {sum(head) / len(head):.3f} over the first {len(head)} steps, "
        f"{sum(tail) / len(tail):.3f} over the last {len(tail)} (of {len(rewards)})"
    )
