"""Importance sampling against the sampling engine: truncated or masked ratios, off-policy masking.

The engine that samples the rollouts and the trainer that scores them compute different
numbers for the same weights (cached, batched bf16 decode steps against one full forward
pass; elsewhere, a different inference stack), so rollouts are slightly off-policy even at
mu = 1. Yao et al. 2025 ("Your efficient RL framework secretly brings you off-policy RL
training") weigh each token's loss by rho = pi_old(y) / pi_sampler(y), the trainer's old policy
over the sampler, detached: truncated at C ("truncate": min(rho, C), TIS) or zeroed outside
[C_min, C] ("mask", as TRL's `*_mask` modes). A sequence's rho is the product of its tokens'
ratios (as TRL and verl take it), applied to each of its tokens.

DeepSeek-V3.2 (2025, eq. 9) drops a sequence whose advantage is negative and whose mean
log-ratio between the sampler and the current policy, mean_t(log pi_sampler - log pi_theta),
exceeds delta: the most off-policy negative samples, whose push-down destabilises training.

Which engine log-prob is compared (the trap of TRL #6789): the trainer scores each token under
the full vocabulary at the sampling temperature, log softmax(logits / T). The engine records
`sampling_logprobs`, under what it sampled from (temperature, then top-p renormalised over the
nucleus, which adds -log(kept mass): a bias, not a policy change), and `logprobs`, under the raw
model (T = 1, full vocabulary). Like is compared with like: `sampling_logprobs` when top_p = 1
(then it is log softmax(logits / T)), the raw `logprobs` when T = 1; the config refuses the
case where neither matches (T != 1 and top_p < 1).
"""

from __future__ import annotations

import torch

from reasoning.rl.config import GRPOConfig
from reasoning.rl.rollout import RolloutBatch


def engine_logprobs(sampling_logprobs: torch.Tensor, model_logprobs: torch.Tensor, temperature: float, top_p: float) -> torch.Tensor:
    """The engine's log-probs of the trainer's distribution, full vocabulary at `temperature` (see the module's docstring)."""
    if top_p >= 1.0:
        return sampling_logprobs
    if temperature == 1.0:
        return model_logprobs
    raise ValueError(f"the engine records no full-vocabulary log-probs at temperature {temperature} under top_p {top_p}: set either to 1")


def sampler_log_ratio(old_logprobs: torch.Tensor, engine: torch.Tensor, mask: torch.Tensor, level: str) -> torch.Tensor:
    """log rho [N, T]: old - engine on each masked token ("token"), or each sequence's sum over its tokens ("sequence")."""
    per_token = (old_logprobs.detach() - engine) * mask
    if level == "token":
        return per_token
    if level == "sequence":
        return per_token.sum(dim=1, keepdim=True).expand_as(per_token)
    raise ValueError(f"unknown importance sampling level {level!r}; expected token or sequence")


def tis_weights(log_ratio: torch.Tensor, mode: str, c: float, c_min: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-token factor and where it differs from rho: min(rho, C) ("truncate"), or rho zeroed outside [c_min, c] ("mask")."""
    ratio = torch.exp(log_ratio)
    if mode == "truncate":
        return ratio.clamp(max=c), ratio > c
    if mode == "mask":
        outside = (ratio < c_min) | (ratio > c)
        return ratio.masked_fill(outside, 0.0), outside
    raise ValueError(f"unknown truncated importance sampling mode {mode!r}; expected truncate or mask")


def off_policy_keep(
    advantages: torch.Tensor, logprobs: torch.Tensor, engine: torch.Tensor, mask: torch.Tensor, delta: float
) -> torch.Tensor:
    """[N] 1.0 to keep a sequence, 0.0 to drop it: negative advantage and mean_t(engine - logprobs) > delta (DeepSeek-V3.2)."""
    divergence = ((engine - logprobs.detach()) * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
    return ((advantages >= 0) | (divergence <= delta)).to(mask.dtype)


def sampler_correction(
    config: GRPOConfig,
    batch: RolloutBatch,
    old_logprobs: torch.Tensor,
    logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The detached factor [N, T] the policy term of a micro-batch's loss is multiplied by (1 when
    both switches are off; `grpo_loss(policy_factor=...)`: the KL term keeps its weights, as in
    TRL), and its sums for the metrics (see `correction_metrics`)."""
    factor, sums = torch.ones_like(mask), {}
    if config.tis == "off" and config.off_policy_mask is None:
        return factor, sums
    engine = engine_logprobs(batch.sampling_logprobs, batch.model_logprobs, config.temperature, config.top_p).to(mask.dtype)
    sums["sampler_gap"] = float(((old_logprobs.detach() - engine).abs() * mask).sum())
    sums["sampler_tokens"] = float(mask.sum())
    if config.tis != "off":
        log_ratio = sampler_log_ratio(old_logprobs, engine, mask, config.tis_level)
        weight, limited = tis_weights(log_ratio, config.tis, config.tis_c, config.tis_c_min)
        # The statistics count the units the ratio is defined on: loss tokens, or sequences with one.
        units = mask.bool() if config.tis_level == "token" else torch.zeros_like(mask, dtype=torch.bool)
        if config.tis_level == "sequence":
            units[:, 0] = mask.sum(dim=1) > 0
        sums["tis_ratio"] = float(torch.exp(log_ratio)[units].sum())
        sums["tis_limited"] = float(limited[units].sum())
        sums["tis_units"] = float(units.sum())
        factor = factor * weight
    if config.off_policy_mask is not None:
        keep = off_policy_keep(advantages, logprobs, engine, mask, config.off_policy_mask)
        sequences = mask.sum(dim=1) > 0
        sums["off_policy_masked"] = float((1 - keep)[sequences].sum())
        sums["off_policy_sequences"] = float(sequences.sum())
        factor = factor * keep[:, None]
    return factor.detach(), sums


def correction_metrics(sums: dict[str, float], config: GRPOConfig) -> dict[str, float | None]:
    """The step's columns from the summed micro-batch sums (all ranks, all passes): the mean ratio
    rho and the share of units truncated or masked, the mean |old - engine| log-prob gap per loss
    token, and the share of sequences the off-policy mask dropped; None where switched off."""
    tis, masking = config.tis != "off", config.off_policy_mask is not None
    return {
        "tis_ratio": sums.get("tis_ratio", 0.0) / max(sums.get("tis_units", 0.0), 1.0) if tis else None,
        "tis_limited": sums.get("tis_limited", 0.0) / max(sums.get("tis_units", 0.0), 1.0) if tis else None,
        "sampler_logprob_gap": sums.get("sampler_gap", 0.0) / max(sums.get("sampler_tokens", 0.0), 1.0) if tis or masking else None,
        "off_policy_masked": sums.get("off_policy_masked", 0.0) / max(sums.get("off_policy_sequences", 0.0), 1.0) if masking else None,
    }
