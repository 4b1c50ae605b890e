"""GRPO's objective as pure tensor functions: advantages, token weights, clipped ratio, KL.

Every function takes plain tensors and returns tensors, so each variant is checked against
numbers computed by hand (tests/test_rl_losses.py). Shapes: N sequences (P prompts x G
samples, grouped contiguously), T completion positions, masks 1 on real completion tokens.

Variants and their sources:
- advantages: (r - mean_group) / std_group (Shao et al. 2024, DeepSeekMath GRPO), or
  r - mean_group without the std (Liu et al. 2025, Dr. GRPO: the std favours easy and hard
  groups with little spread).
- clipping: PPO's clipped ratio (Schulman et al. 2017) with separate low and high epsilons
  (Yu et al. 2025, DAPO "clip-higher": a larger high epsilon keeps exploring tokens alive).
- the objective: the clip above (per token, or per sequence as GSPO), CISPO or SAPO, each a pure
  function in reasoning.rl.objectives, chosen once from the config.
- aggregation (see `token_weights` for each normaliser): "sequence" (each completion's token
  mean, averaged over all N completions: GRPO's paper), "token" (sum over the batch's tokens /
  their number: DAPO, long answers count per token), or "constant" (sum over tokens /
  (N x max_new_tokens): Dr. GRPO, no length bias at all).
- KL: the k3 estimator exp(q - p) - (q - p) - 1 of KL(policy || reference) (Schulman 2020,
  "Approximating KL divergence"), unbiased and always >= 0, as DeepSeekMath uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch

from reasoning.rl.config import AGGREGATIONS
from reasoning.rl.objectives import Objective, clipped


def group_advantages(rewards: torch.Tensor, group_size: int, *, scale_by_std: bool = True, eps: float = 1e-4) -> torch.Tensor:
    """Advantage [N] of each completion: its reward minus its group's mean (over its group's std).

    rewards is [N] with groups of `group_size` contiguous. The std is Bessel-corrected (as in
    TRL's GRPOTrainer); eps keeps a group of equal rewards at advantage 0 instead of 0/0.
    """
    if rewards.ndim != 1 or rewards.numel() % group_size:
        raise ValueError(f"rewards must be [N] with N a multiple of group_size={group_size}, got shape {tuple(rewards.shape)}")
    groups = rewards.float().view(-1, group_size)
    centered = groups - groups.mean(dim=1, keepdim=True)
    if scale_by_std:
        std = groups.std(dim=1, keepdim=True) if group_size > 1 else torch.zeros_like(centered[:, :1])
        centered = centered / (std + eps)
    return centered.view(-1)


def per_reward_advantages(
    parts: torch.Tensor, weights: torch.Tensor, group_size: int, *, scale_by_std: bool = True, eps: float = 1e-4
) -> torch.Tensor:
    """GDPO's advantages [N] (arXiv 2601.05242, 2026; the book's chapter 7 bonus code, gdpo.py): each reward
    of parts [K, N] normalised within its group on its own, summed with its weight [K], and that sum
    normalised within the group again (centred only without scale_by_std).

    Summing first (joint) lets a reward with a large spread drown the others, and distinct
    combinations collapse onto one advantage; normalising each one first keeps them apart.
    """
    if parts.ndim != 2 or weights.shape != parts.shape[:1]:
        raise ValueError(f"parts must be [K, N] and weights [K], got {tuple(parts.shape)} and {tuple(weights.shape)}")
    normalised = torch.stack([group_advantages(reward, group_size, eps=eps) for reward in parts])
    combined = (weights.float()[:, None] * normalised).sum(dim=0)
    return group_advantages(combined, group_size, scale_by_std=scale_by_std, eps=eps)


def zero_variance_groups(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """[N / group_size] bool: groups whose rewards are all equal, so every advantage is 0 (DAPO)."""
    groups = rewards.view(-1, group_size)
    return (groups == groups[:, :1]).all(dim=1)


def token_weights(mask: torch.Tensor, aggregation: str, *, num_sequences: int | None = None, num_tokens: float | None = None, max_tokens: int | None = None) -> torch.Tensor:
    """Weights [N, T] such that sum(weights * per_token) is the aggregated loss.

    The normalisers, with N the number of sequences (every row, including one whose tokens
    are all masked, e.g. a truncated completion under mask_truncated: it adds 0 but counts),
    |o_i| the unmasked tokens of sequence i and L = max_tokens, the generation budget:
    - "sequence": (1/N) sum_i (1/|o_i|) sum_t loss_it (GRPO, Shao et al. 2024);
    - "token": sum_it loss_it / sum_i |o_i| (DAPO, Yu et al. 2025);
    - "constant": sum_it loss_it / (N x L) (Dr. GRPO, Liu et al. 2025).
    TRL's "grpo" and "dr_grpo" losses divide by all rows too. Written as weights so a batch
    split into micro-batches or over ranks sums to exactly the whole batch's loss: pass the
    whole batch's num_sequences and num_tokens (default: this mask's own rows and tokens).
    """
    mask = mask.float()
    sequences = mask.shape[0] if num_sequences is None else num_sequences
    if aggregation == "token":
        tokens = float(mask.sum()) if num_tokens is None else num_tokens
        return mask / max(tokens, 1.0)
    if aggregation == "sequence":
        lengths = mask.sum(dim=1, keepdim=True).clamp(min=1)
        return mask / lengths / max(sequences, 1)
    if aggregation == "constant":
        if max_tokens is None or max_tokens < 1:
            raise ValueError("aggregation 'constant' needs max_tokens >= 1 (the generation budget)")
        return mask / (max(sequences, 1) * max_tokens)
    raise ValueError(f"unknown loss aggregation {aggregation!r}; expected one of {', '.join(AGGREGATIONS)}")


def clipped_objective(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, eps_low: float, eps_high: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token loss -min(r A, clip(r, 1 - eps_low, 1 + eps_high) A) and where the clip was active.

    r = exp(logprobs - old_logprobs) is the importance ratio [N, T]; advantages are [N]. A
    token is clipped when the clipped term is the smaller one, so its gradient is zero.
    """
    return clipped(logprobs - old_logprobs, logprobs, advantages, eps_low=eps_low, eps_high=eps_high)


def kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, old_logprobs: torch.Tensor | None = None) -> torch.Tensor:
    """Per-token k3 estimate of KL(policy || reference): exp(d) - d - 1 with d = ref - policy
    (old_logprobs unused: the signature of `kl_unbiased_k3`)."""
    delta = ref_logprobs - logprobs
    return torch.exp(delta) - delta - 1


def kl_unbiased_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, old_logprobs: torch.Tensor) -> torch.Tensor:
    """DeepSeek-V3.2's unbiased KL estimate (DeepSeek-AI 2025, section 3.1): the k3 estimate on
    tokens sampled from pi_old, reweighted by pi / pi_old so that it (and its gradient) estimates
    KL(pi || ref) itself; the book's deepseek_v32_style.py reweights its KL term the same way."""
    return torch.exp(logprobs - old_logprobs) * kl_k3(logprobs, ref_logprobs)


@dataclass(frozen=True)
class LossParts:
    """The loss to backpropagate, its weighted parts and the clipped-token count (sums: add them over micro-batches)."""

    loss: torch.Tensor
    policy: torch.Tensor
    kl: torch.Tensor
    clipped_tokens: torch.Tensor  # tokens of nonzero weight whose ratio was clipped
    # sequence-level ratios only (GSPO): each row with loss tokens, its ratio and whether its clip was active
    sequence_ratios: torch.Tensor | None = None
    clipped_sequences: torch.Tensor | None = None


def grpo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    weights: torch.Tensor,
    *,
    eps_low: float,
    eps_high: float,
    beta: float = 0.0,
    ref_logprobs: torch.Tensor | None = None,
    objective: Objective | None = None,
    mask: torch.Tensor | None = None,
    policy_factor: torch.Tensor | float = 1.0,
    kl_estimator: str = "k3",
) -> LossParts:
    """GRPO loss: the weighted policy objective plus beta x weighted k3 KL to the reference.

    weights come from `token_weights` (zero on padding and masked completions), so every
    part is a weighted sum that adds up across micro-batches and ranks. objective is the one
    `objectives.objective_for` chose (default: the clip with eps_low and eps_high, per token);
    a sequence's ratio is the mean over its tokens in mask (default: those of nonzero weight).
    policy_factor (detached) scales the policy term alone, as TRL applies importance sampling
    against the engine and off-policy masking (`rl.importance`): the KL term keeps its weights.
    kl_estimator: "k3", or "unbiased-k3" (DeepSeek-V3.2, section 3.1: k3 times the ratio
    pi / pi_old, which corrects for the samples coming from the old policy; see `kl_unbiased_k3`).
    """
    objective = objective or Objective(partial(clipped, eps_low=eps_low, eps_high=eps_high))
    factor = torch.as_tensor(policy_factor, dtype=weights.dtype, device=weights.device).detach()
    loss_tokens = (weights.detach() * factor) != 0
    mask = loss_tokens if mask is None else mask != 0
    per_token, cut, log_ratio = objective(logprobs, old_logprobs, advantages, mask)
    policy = (weights * factor * per_token).sum()
    kl = torch.zeros((), device=logprobs.device)
    if beta > 0:
        if ref_logprobs is None:
            raise ValueError("beta > 0 needs ref_logprobs from the reference model")
        estimate = kl_unbiased_k3 if kl_estimator == "unbiased-k3" else kl_k3
        kl = (weights * estimate(logprobs, ref_logprobs, old_logprobs)).sum()
    clipped_tokens = (cut & loss_tokens).sum()
    sequences = sequence_parts(log_ratio, cut, mask) if objective.level == "sequence" else {}
    return LossParts(policy + beta * kl, policy.detach(), kl.detach(), clipped_tokens, **sequences)


def sequence_parts(log_ratio: torch.Tensor, cut: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each row with tokens in mask: its sequence ratio and whether its clip was active (both constant along a row)."""
    counts = mask.sum(dim=1)
    rows = counts > 0
    ratios = torch.exp((log_ratio * mask).sum(dim=1) / counts.clamp(min=1))
    return {"sequence_ratios": ratios[rows], "clipped_sequences": (cut & mask).any(dim=1).sum()}
