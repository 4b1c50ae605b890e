"""GRPO's metrics: the columns of its rows (written by `reasoning.training.metrics.MetricsLog`)
and the summary of a run's rewards.

The columns, each reduced over ranks by name: reward_mean, reward_std (population), accuracy,
format and response_length (tokens) over every completion scored in the step, skipped and
refill groups included; truncated, the share cut by the token budget; loss and kl, aggregated
as the loss is, averaged over the mu passes; clip_fraction, the share of loss tokens whose
ratio was clipped (CISPO: whose weight was capped; SAPO clips none), over all passes; entropy, the mean over loss tokens (first pass);
grad_norm, before clipping (mean over passes); groups_used, the groups trained on;
groups_skipped, those left out for equal rewards (dynamic sampling); rollout_tokens;
eval_accuracy, the periodic held-out evaluation's.
"""

from __future__ import annotations

import math
from typing import Any

COLUMNS = (
    "step", "reward_mean", "reward_std", "accuracy", "format", "response_length", "truncated", "kl", "clip_fraction",
    "entropy", "grad_norm", "loss", "groups_used", "groups_skipped", "rollout_tokens", "tokens_per_s", "seconds",
    "rollout_seconds", "eval_accuracy",
)  # fmt: skip
# Each built-in reward's mean and population std over the step's scored completions, by name
# (reward_correct_mean, ..., reward_length_std); empty where the reward is off.
REWARD_PARTS = ("correct", "format", "overlong", "length")
COLUMNS += tuple(f"reward_{name}_{stat}" for name in REWARD_PARTS for stat in ("mean", "std"))
# Importance sampling against the engine (reasoning.rl.importance.correction_metrics): the mean ratio
# pi_old / pi_sampler and the share truncated or masked, over tokens or sequences (tis_level); the
# mean |old - engine| log-prob gap per loss token; the share of sequences off-policy masking drops.
COLUMNS += ("tis_ratio", "tis_limited", "sampler_logprob_gap", "off_policy_masked")
# The sequence-level importance ratios (GSPO, or importance_sampling "sequence"; empty at the token
# level), over every pass: their mean, min and max, and the share of sequences whose clip was active.
SEQUENCE_RATIO_COLUMNS = ("seq_ratio_mean", "seq_ratio_min", "seq_ratio_max", "seq_clip_fraction")
COLUMNS += SEQUENCE_RATIO_COLUMNS
TIMING = ("tokens_per_s", "seconds", "rollout_seconds")  # the columns that differ between identical runs


def reward_part_metrics(sums: dict[str, float], count: float) -> dict[str, float]:
    """The mean and population std of each built-in reward part present in `sums` (the step's
    "part:NAME" and "part_squares:NAME" totals over all ranks, of `count` completions)."""
    metrics = {}
    for name in REWARD_PARTS:
        if f"part:{name}" in sums:
            mean = sums[f"part:{name}"] / count
            metrics[f"reward_{name}_mean"] = mean
            metrics[f"reward_{name}_std"] = math.sqrt(max(sums[f"part_squares:{name}"] / count - mean**2, 0.0))
    return metrics


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
