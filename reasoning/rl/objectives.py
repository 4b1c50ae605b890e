"""GRPO's policy objectives, one pure function each, chosen once by name (`objective_for`).

An objective turns the log importance ratio log(pi / pi_old) [N, T], the log-probs [N, T] and
the advantages [N] into a per-token loss [N, T] and where its clip was active; `grpo_loss`
weighs and sums it. The ratio is taken per token or per sequence (`importance_ratio`).

- "grpo": PPO's clipped ratio, -min(r A, clip(r, 1 - eps_low, 1 + eps_high) A) (Schulman et al.
  2017; DeepSeekMath's GRPO, Shao et al. 2024).
- "gspo": the same clip on the sequence's ratio s = exp(mean_t log r_t), with tiny epsilons
  (3e-4 / 4e-4) (Zheng et al. 2025, "Group Sequence Policy Optimization"; TRL's
  importance_sampling_level="sequence").
- "cispo": the capped ratio as a stop-gradient weight on the log-prob,
  -sg[min(r, eps_max)] A log pi, so no token loses its gradient (MiniMax-M1, 2025; TRL's
  loss_type="cispo", eps_max 5 as ScaleRL recommends).
- "sapo": a soft gate instead of the hard clip, -sigmoid(tau (r - 1)) 4 / tau A, with tau_pos
  for A > 0 and tau_neg otherwise (Qwen team 2025, "Soft Adaptive Policy Optimization",
  arXiv 2511.20347; TRL's loss_type="sapo"). Its gradient at r = 1 is -A, as GRPO's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch

from reasoning.rl.config import GRPOConfig

# (log-ratio, log-probs, advantages) -> (per-token loss, where clipped); only CISPO reads the log-probs itself
PerToken = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def importance_ratio(logprobs: torch.Tensor, old_logprobs: torch.Tensor, mask: torch.Tensor, level: str) -> torch.Tensor:
    """log r [N, T]: per token, or each sequence's mean log-ratio over its masked tokens (GSPO).

    The sequence form is GSPO-token's sg[log s_i] + log pi_t - sg[log pi_t]: its value is
    log s_i on every token and d log r_t / d log pi_t = 1. Under any weights constant along a
    row (every aggregation here) its gradient equals that of TRL's exp(mean_t log r_t) applied
    to each token, and each token's loss stays local, so micro-batches add up. An empty row
    gets ratio 1.
    """
    log_ratio = logprobs - old_logprobs
    if level == "token":
        return log_ratio
    if level == "sequence":
        mask = mask.to(log_ratio.dtype)
        mean = (log_ratio * mask).sum(dim=1, keepdim=True) / mask.sum(dim=1, keepdim=True).clamp(min=1)
        return mean.detach() + logprobs - logprobs.detach()
    raise ValueError(f"unknown importance sampling level {level!r}; expected token or sequence")


def clipped(
    log_ratio: torch.Tensor, logprobs: torch.Tensor, advantages: torch.Tensor, *, eps_low: float, eps_high: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's -min(r A, clip(r, 1 - eps_low, 1 + eps_high) A) and where the clip cut the gradient."""
    ratio = torch.exp(log_ratio)
    advantage = advantages[:, None].to(ratio.dtype)
    unclipped, bounded = ratio * advantage, ratio.clamp(1 - eps_low, 1 + eps_high) * advantage
    return -torch.minimum(unclipped, bounded), bounded < unclipped


def cispo(
    log_ratio: torch.Tensor, logprobs: torch.Tensor, advantages: torch.Tensor, *, eps_max: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """CISPO's -sg[min(r, eps_max)] A log pi and where the weight was capped."""
    ratio = torch.exp(log_ratio).detach()
    return -ratio.clamp(max=eps_max) * advantages[:, None].to(ratio.dtype) * logprobs, ratio > eps_max


def sapo(
    log_ratio: torch.Tensor, logprobs: torch.Tensor, advantages: torch.Tensor, *, tau_pos: float, tau_neg: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """SAPO's -sigmoid(tau (r - 1)) 4 / tau A, tau by the advantage's sign; nothing is hard-clipped."""
    ratio = torch.exp(log_ratio)
    advantage = advantages[:, None].to(ratio.dtype)
    tau = torch.where(advantage > 0, advantage.new_tensor(tau_pos), advantage.new_tensor(tau_neg))
    return -torch.sigmoid(tau * (ratio - 1)) * 4 / tau * advantage, torch.zeros_like(ratio, dtype=torch.bool)


@dataclass(frozen=True)
class Objective:
    """A policy objective with its settings bound, and the level its ratio is taken at."""

    per_token: PerToken
    level: str = "token"

    def __call__(
        self, logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-token loss [N, T], where the clip was active [N, T], and the log-ratio used (detached)."""
        log_ratio = importance_ratio(logprobs, old_logprobs, mask, self.level)
        loss, cut = self.per_token(log_ratio, logprobs, advantages)
        return loss, cut, log_ratio.detach()


def objective_for(config: GRPOConfig) -> Objective:
    """The objective `config.loss` names, its settings bound; "gspo" is the clip at the sequence level."""
    clip = partial(clipped, eps_low=config.eps_low, eps_high=config.eps_high)
    per_token: dict[str, PerToken] = {
        "grpo": clip,
        "gspo": clip,
        "cispo": partial(cispo, eps_max=config.eps_max),
        "sapo": partial(sapo, tau_pos=config.sapo_tau_pos, tau_neg=config.sapo_tau_neg),
    }
    level = "sequence" if config.loss == "gspo" else config.importance_sampling
    return Objective(per_token[config.loss], level)
