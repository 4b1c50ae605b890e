"""Every supervised fine-tuning setting in one frozen dataclass, with named presets.

The command line maps onto the fields one to one (`reasoning train sft --lora-rank 16 ...`).
Presets: "full" (every weight trains, AdamW on all of them), "lora" (rank-16 adapters on every
projection, the usual 10x larger learning rate), and "toy" (the offline addition task).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

SCHEDULES = ("cosine", "linear", "constant")
TOO_LONG = ("drop", "truncate")
DTYPES = ("bfloat16", "float32")


@dataclass(frozen=True)
class SFTConfig:
    """How one supervised run batches, steps and saves."""

    # data
    epochs: int = 1
    steps: int = 0  # optimizer steps; 0: as many as `epochs` passes over the data take
    batch_size: int = 16  # sequences per optimizer step, over all ranks
    micro_batch_size: int = 4  # sequences per forward/backward pass (gradient accumulation)
    max_length: int = 4096  # prompt + response tokens
    # Examples longer than max_length: "drop" them (default: a cut trace never shows the
    # model how to finish), or "truncate" the response's end (no end-of-turn token is learnt).
    too_long: str = "drop"
    # optimisation
    lr: float = 1e-5
    schedule: str = "cosine"  # decay after warm-up: "cosine", "linear" or "constant"
    warmup_steps: int = 0  # linear warm-up from 0
    min_lr_ratio: float = 0.0  # the schedule's floor, as a fraction of lr
    weight_decay: float = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.999)
    max_grad_norm: float = 1.0  # 0 turns clipping off
    dtype: str = "bfloat16"  # weights, activations and AdamW (no float32 master copy; see GRPOConfig)
    gradient_checkpointing: bool = False
    # LoRA: rank 0 trains every weight
    lora_rank: int = 0
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    # bookkeeping
    seed: int = 0
    checkpoint_every: int = 100  # 0: only at the end
    keep_last: int = 0  # keep the newest N checkpoints, delete older ones (0: keep all)
    eval_every: int = 0  # 0: evaluate at the end only (when there is something to evaluate on)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "micro_batch_size", "max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("steps", "warmup_steps", "lora_rank", "checkpoint_every", "keep_last", "eval_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_length < 2:
            raise ValueError(f"max_length must be >= 2 (a prompt token and a response token), got {self.max_length}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.too_long not in TOO_LONG:
            raise ValueError(f"too_long must be one of {', '.join(TOO_LONG)}, got {self.too_long!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if not (self.lr > 0 and 0 <= self.min_lr_ratio <= 1 and self.max_grad_norm >= 0 and self.weight_decay >= 0):
            raise ValueError("need lr > 0, 0 <= min_lr_ratio <= 1, max_grad_norm >= 0 and weight_decay >= 0")
        if self.lora_alpha <= 0 or not 0 <= self.lora_dropout < 1:
            raise ValueError(f"need lora_alpha > 0 and 0 <= lora_dropout < 1, got {self.lora_alpha} and {self.lora_dropout}")
        object.__setattr__(self, "adam_betas", tuple(self.adam_betas))

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> SFTConfig:
        """The preset `name` with some fields replaced."""
        if name not in PRESETS:
            raise ValueError(f"unknown SFT preset {name!r}; known: {', '.join(PRESETS)}")
        return replace(PRESETS[name], **overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, SFTConfig] = {
    "full": SFTConfig(),
    "lora": SFTConfig(lora_rank=16, lora_alpha=32, lr=1e-4),
    # The offline demonstration: a tiny addition model fine-tuned on a teacher's correct traces.
    "toy": SFTConfig(
        epochs=60, batch_size=32, micro_batch_size=32, max_length=64, lr=3e-3, warmup_steps=5, dtype="float32",
        checkpoint_every=0, eval_every=30,
    ),  # fmt: skip
}
