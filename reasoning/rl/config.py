"""Every GRPO setting in one frozen dataclass, with named presets for the published variants.

The command line maps onto the fields one to one (`reasoning train grpo --group-size 8 ...`).
Presets: "grpo" (DeepSeekMath: std-scaled advantages, per-sequence mean, symmetric clip),
"dr-grpo" (no std, constant normaliser), "dapo" (clip-higher, token mean, dynamic sampling,
overlong masking, no KL), "gdpo" (per-reward normalisation), the book's chapter 7 recipes "olmo3"
and "deepseek-v3.2" (each documented at its preset), and "toy-addition" (the small offline task that shows RL working).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

AGGREGATIONS = ("token", "sequence", "constant")  # see reasoning.rl.losses.token_weights
DYNAMIC_SAMPLING = ("off", "skip", "refill")
DTYPES = ("bfloat16", "float32")
LOSSES = ("grpo", "gspo", "cispo", "sapo")  # see reasoning.rl.objectives
IMPORTANCE_SAMPLING = ("token", "sequence")  # the level of the importance ratio
TIS_MODES = ("off", "truncate", "mask")  # see reasoning.rl.importance
TIS_LEVELS = ("token", "sequence")
KL_ESTIMATORS = ("k3", "unbiased-k3")  # see reasoning.rl.losses
REWARD_NORMALISATIONS = ("joint", "per-reward")  # see reasoning.rl.losses.per_reward_advantages


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
    # the policy objective (reasoning.rl.objectives): the loss by name, its ratio's level and its own settings
    loss: str = "grpo"  # "grpo" (clip), "gspo" (clip per sequence), "cispo" (capped weight), "sapo" (soft gate)
    importance_sampling: str = "token"  # the ratio per "token" or per "sequence" (GSPO's); "gspo" is always "sequence"
    eps_max: float = 5.0  # CISPO's cap on the importance weight (ScaleRL's 5; TRL's epsilon_high under cispo)
    sapo_tau_pos: float = 1.0  # SAPO's gate temperature for positive advantages
    sapo_tau_neg: float = 1.05  # ... and for the others (steeper: negative updates fade faster)
    # reward shaping (reasoning.rl.rewards): GDPO's per-reward normalisation and two length terms, each a named reward part
    reward_normalisation: str = "joint"  # "per-reward": each reward normalised in its group before they are summed (GDPO)
    overlong_cache: int = 0  # DAPO's soft overlong punishment over the last N tokens of the budget (0: off)
    overlong_factor: float = 1.0  # the punishment at the budget
    length_penalty: float = 0.0  # weight of Kimi 1.5's length reward, on correct answers only (0: off)
    # importance sampling against the sampling engine (reasoning.rl.importance): Yao et al. 2025's TIS, DeepSeek-V3.2's mask
    tis: str = "off"  # weigh each token by rho = pi_old / pi_sampler: "truncate" min(rho, C), "mask" 0 outside [C_min, C]
    tis_level: str = "token"  # rho per "token", or per "sequence" (the product of its tokens' ratios)
    tis_c: float = 2.0  # C (Yao et al. 2025 use 2; TRL's default cap is 3)
    tis_c_min: float = 0.5  # C_min, used by "mask" only (1 / C, as verl's default lower bound)
    off_policy_mask: float | None = None  # drop negative-advantage sequences with mean log(pi_sampler / pi) > this (None: off)
    kl_estimator: str = "k3"  # "unbiased-k3": k3 reweighted by pi / pi_old (DeepSeek-V3.2; reasoning.rl.losses)

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
        if self.loss not in LOSSES or self.importance_sampling not in IMPORTANCE_SAMPLING:
            raise ValueError(
                f"need loss in {', '.join(LOSSES)} and importance_sampling in {', '.join(IMPORTANCE_SAMPLING)}, "
                f"got {self.loss!r} and {self.importance_sampling!r}"
            )
        if not (self.eps_max > 0 and self.sapo_tau_pos > 0 and self.sapo_tau_neg > 0):
            raise ValueError(f"need eps_max, sapo_tau_pos, sapo_tau_neg > 0, got {self.eps_max}, {self.sapo_tau_pos}, {self.sapo_tau_neg}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.beta < 0 or self.lr <= 0 or self.max_grad_norm < 0:
            raise ValueError("need beta >= 0, lr > 0 and max_grad_norm >= 0")
        if self.lora_rank < 0 or self.lora_alpha <= 0:
            raise ValueError(f"need lora_rank >= 0 (0: full fine-tuning) and lora_alpha > 0, got {self.lora_rank} and {self.lora_alpha}")
        if self.reward_normalisation not in REWARD_NORMALISATIONS:
            raise ValueError(f"reward_normalisation must be one of {', '.join(REWARD_NORMALISATIONS)}, got {self.reward_normalisation!r}")
        if not 0 <= self.overlong_cache <= self.max_new_tokens or self.overlong_factor < 0 or self.length_penalty < 0:
            raise ValueError(
                f"need 0 <= overlong_cache <= max_new_tokens ({self.max_new_tokens}), overlong_factor >= 0 and length_penalty >= 0, "
                f"got {self.overlong_cache}, {self.overlong_factor} and {self.length_penalty}"
            )
        if self.kl_estimator not in KL_ESTIMATORS:
            raise ValueError(f"kl_estimator must be one of {', '.join(KL_ESTIMATORS)}, got {self.kl_estimator!r}")
        if self.tis not in TIS_MODES or self.tis_level not in TIS_LEVELS:
            raise ValueError(f"need tis in {', '.join(TIS_MODES)} and tis_level in {', '.join(TIS_LEVELS)}, got {self.tis!r}, {self.tis_level!r}")
        if not 0 <= self.tis_c_min < self.tis_c or (self.off_policy_mask is not None and not self.off_policy_mask >= 0):
            raise ValueError(f"need 0 <= tis_c_min < tis_c and off_policy_mask >= 0, got {self.tis_c_min}, {self.tis_c}, {self.off_policy_mask}")
        if (self.tis != "off" or self.off_policy_mask is not None) and self.temperature != 1 and self.top_p < 1:
            raise ValueError(
                "tis and off_policy_mask compare the trainer's full-vocabulary log-probs with the engine's, which it records at "
                f"temperature 1 or without top-p only: set temperature or top_p to 1 (got {self.temperature} and {self.top_p})"
            )
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
    # Zheng et al. 2025 (GSPO): the clip on each sequence's ratio, with its tiny epsilons.
    "gspo": GRPOConfig(loss="gspo", eps_low=3e-4, eps_high=4e-4),
    # MiniMax-M1 2025 (CISPO): the capped weight on every token, summed over all tokens (TRL's cispo).
    "cispo": GRPOConfig(loss="cispo", aggregation="token"),
    # Qwen team 2025 (SAPO): the soft gate, each sequence's token mean (TRL's sapo).
    "sapo": GRPOConfig(loss="sapo"),
    # GDPO (arXiv 2601.05242; the book's gdpo.py): correctness plus a 0.1 format bonus, each normalised in its group.
    "gdpo": GRPOConfig(reward_normalisation="per-reward", format_weight=0.1),
    # The book's chapter 7 recipes (rasbt/reasoning-from-scratch, ch07/03_rlvr_grpo_scripts_advanced/7_7_improvements).
    # OLMo 3 (Team OLMo 2025; olmo3_style.py): Dr. GRPO's centred advantages, token-level mean, active
    # sampling, clip-higher, no KL, and the ratio truncated at C (Yao et al. 2025's TIS, here against the engine).
    "olmo3": GRPOConfig(
        scale_rewards=False, aggregation="token", dynamic_sampling="refill", eps_high=0.28, beta=0.0, tis="truncate", tis_c=2.0
    ),
    # DeepSeek-V3.2 (DeepSeek-AI 2025; deepseek_v32_style.py): GRPO's std-scaled advantages, the unbiased
    # (ratio-reweighted) KL term, two passes, and off-policy sequence masking at delta 0.1. Its kept top-p
    # sampling mask is not a field here: the trainer's log-probs are the full distribution's.
    "deepseek-v3.2": GRPOConfig(beta=0.02, mu=2, off_policy_mask=0.1, kl_estimator="unbiased-k3"),
    # The offline demonstration: a tiny model learns to add (see reasoning.training.toy).
    "toy-addition": GRPOConfig(
        steps=150, prompts_per_step=40, group_size=16, max_new_tokens=8, temperature=1.0, lr=1e-3,
        aggregation="token", micro_batch_size=640, max_batch_size=640, dtype="float32", checkpoint_every=50,
        eval_every=50,
    ),
}


# The fields that size a run rather than choose its objective: what a recipe keeps from another base.
SCALE = (
    "steps", "prompts_per_step", "group_size", "max_new_tokens", "temperature", "top_p", "max_batch_size", "lr",
    "micro_batch_size", "dtype", "checkpoint_every", "eval_every", "eval_limit",
)  # fmt: skip


def at_scale_of(name: str, base: str) -> GRPOConfig:
    """Preset `name`'s objective at preset `base`'s scale (a recipe on the toy task: chapter 7 and
    evals/bench_grpo_variants.py)."""
    for preset in (name, base):
        if preset not in PRESETS:
            raise ValueError(f"unknown GRPO preset {preset!r}; known: {', '.join(PRESETS)}")
    return replace(PRESETS[name], **{field: getattr(PRESETS[base], field) for field in SCALE})
