"""Every GRPO setting in one frozen dataclass, with named presets for the published variants.

The command line maps onto the fields one to one (`reasoning train grpo --group-size 8 ...`).
Presets: "grpo" (DeepSeekMath: std-scaled advantages, per-sequence mean, symmetric clip),
"dr-grpo" (no std, constant normaliser), "dapo" (clip-higher, token mean, dynamic sampling,
overlong masking, no KL), and "toy-addition" (the small offline task that shows RL working).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

AGGREGATIONS = ("token", "sequence", "constant")  # see reasoning.rl.losses.token_weights
DYNAMIC_SAMPLING = ("off", "skip", "refill")
DTYPES = ("bfloat16", "float32")


@dataclass(frozen=True)
class GRPOConfig:
    """How one GRPO run samples, scores, weighs and steps."""

    # rollouts
    steps: int = 100
    prompts_per_step: int = 8
    group_size: int = 8
    max_new_tokens: int = 512
    temperature: float = 1.0
    top_p: float = 1.0
    max_batch_size: int = 64  # rows the engine decodes at once
    thinking_budget: int = 0  # thinking tokens before the close is forced (bounds rollout cost); 0: none
    # objective
    scale_rewards: bool = True  # divide advantages by the group std (False: Dr. GRPO)
    eps_low: float = 0.2
    eps_high: float = 0.2  # DAPO clip-higher uses 0.28
    aggregation: str = "sequence"  # "token", "sequence" or "constant" (see losses)
    mask_truncated: bool = False  # drop completions cut by max_new_tokens from the loss (DAPO)
    beta: float = 0.0  # KL coefficient to the frozen reference model (k3 estimator)
    mu: int = 1  # optimisation passes over each batch of rollouts
    dynamic_sampling: str = "off"  # groups with equal rewards: "off", "skip", "refill" (DAPO)
    max_refills: int = 4  # extra generation rounds "refill" may take per step
    # rewards: weights of the built-in rewards (extra ones are added in code)
    correctness_weight: float = 1.0
    format_weight: float = 0.0
    # optimisation
    lr: float = 1e-6
    weight_decay: float = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.99)
    micro_batch_size: int = 8  # sequences per forward/backward (gradient accumulation)
    max_grad_norm: float = 1.0  # 0 turns clipping off
    # Weights, rollouts and AdamW all in this dtype (pure bf16, as the book's chapter 6 runs). bf16
    # keeps 8 bits of mantissa, so an update below ~1/256 of a weight is lost: for small learning
    # rates on long runs prefer float32 (no float32 master copy is kept).
    dtype: str = "bfloat16"
    gradient_checkpointing: bool = False
    # LoRA (reasoning.lora): adapters of this rank on every projection, the rest frozen; with beta > 0
    # the KL reference is the policy with its adapters off. 0: full fine-tuning. No dropout: the
    # ratio and the KL compare log-probs of one deterministic policy (TRL turns dropout off too).
    lora_rank: int = 0
    lora_alpha: int = 32  # the adapters' scale is alpha / rank
    # bookkeeping
    seed: int = 0
    checkpoint_every: int = 50  # 0: only at the end
    keep_last: int = 0  # keep the newest N checkpoints, delete older ones (0: keep all)
    eval_every: int = 0  # 0: no periodic evaluation
    eval_limit: int = 50  # held-out problems per evaluation
    log_samples: int = 2  # completions kept in samples.jsonl per step

    def __post_init__(self) -> None:
        positive = ("steps", "prompts_per_step", "group_size", "max_new_tokens", "mu", "micro_batch_size", "max_batch_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.group_size < 2:
            raise ValueError(f"group_size must be >= 2: a group of one has no relative advantage, got {self.group_size}")
        if self.thinking_budget < 0:
            raise ValueError(f"thinking_budget must be >= 0 (0: none), got {self.thinking_budget}")
        if self.keep_last < 0:
            raise ValueError(f"keep_last must be >= 0 (0: keep every checkpoint), got {self.keep_last}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0: GRPO samples its rollouts, got {self.temperature}")
        if not (0 <= self.eps_low < 1 and self.eps_high >= 0):
            raise ValueError(f"need 0 <= eps_low < 1 and eps_high >= 0, got {self.eps_low} and {self.eps_high}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, got {self.aggregation!r}")
        if self.dynamic_sampling not in DYNAMIC_SAMPLING:
            raise ValueError(f"dynamic_sampling must be one of {', '.join(DYNAMIC_SAMPLING)}, got {self.dynamic_sampling!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.beta < 0 or self.lr <= 0 or self.max_grad_norm < 0:
            raise ValueError("need beta >= 0, lr > 0 and max_grad_norm >= 0")
        if self.lora_rank < 0 or self.lora_alpha <= 0:
            raise ValueError(f"need lora_rank >= 0 (0: full fine-tuning) and lora_alpha > 0, got {self.lora_rank} and {self.lora_alpha}")
        object.__setattr__(self, "adam_betas", tuple(self.adam_betas))

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> GRPOConfig:
        """The preset `name` with some fields replaced."""
        if name not in PRESETS:
            raise ValueError(f"unknown GRPO preset {name!r}; known: {', '.join(PRESETS)}")
        return replace(PRESETS[name], **overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, GRPOConfig] = {
    # DeepSeekMath's GRPO as in the book's chapter 6 (no KL there by default, as in its code).
    "grpo": GRPOConfig(),
    # Liu et al. 2025: no std scaling, sum over tokens divided by a constant.
    "dr-grpo": GRPOConfig(scale_rewards=False, aggregation="constant"),
    # Yu et al. 2025: clip-higher, token-level mean, dynamic sampling, overlong filtering.
    "dapo": GRPOConfig(eps_high=0.28, aggregation="token", dynamic_sampling="refill", mask_truncated=True),
    # The offline demonstration: a tiny model learns to add (see reasoning.training.toy).
    "toy-addition": GRPOConfig(
        steps=150, prompts_per_step=40, group_size=16, max_new_tokens=8, temperature=1.0, lr=1e-3,
        aggregation="token", micro_batch_size=640, max_batch_size=640, dtype="float32", checkpoint_every=50,
        eval_every=50,
    ),
}
