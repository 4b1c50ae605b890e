"""What a trainer holds, and how a model is set up to train: dtype, LoRA, checkpointing, FSDP2, AdamW.

GRPO and SFT train a `Learner`: the model being trained (sharded under torchrun), its plain
copy for generation and saving (the model itself on one process), the tokenizer, AdamW over
what trains, the settings and the world. `prepare` builds it the same way for both.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import torch
import torch.utils.checkpoint
from torch import nn

from reasoning.distributed import World, current_world
from reasoning.generation.api import Tokenizer
from reasoning.lora import LoraSettings, add_lora
from reasoning.training import fsdp


class TrainingSettings(Protocol):
    """What `prepare` reads: fields that GRPOConfig and SFTConfig share."""

    dtype: str
    lora_rank: int
    lora_alpha: int
    gradient_checkpointing: bool
    lr: float
    adam_betas: tuple[float, float]
    weight_decay: float
    seed: int


Settings = TypeVar("Settings", bound=TrainingSettings)


@dataclass
class Learner(Generic[Settings]):
    """A model in training: the model (maybe sharded), its plain copy, tokenizer, optimizer and
    settings; `reference`, a frozen copy of the starting weights where the trainer asked for one
    (GRPO's KL reference under full fine-tuning)."""

    model: nn.Module
    plain: nn.Module
    tokenizer: Tokenizer
    optimizer: torch.optim.Optimizer
    config: Settings
    world: World
    pad_id: int = 0
    reference: nn.Module | None = None
    base_model: str | None = None  # what LoRA adapters are saved against (a hub id or path)


def prepare(
    model: nn.Module, tokenizer: Tokenizer, config: Settings, *, base_model: str | None = None, lora_dropout: float = 0.0,
    reference: bool = False,
) -> Learner[Settings]:  # fmt: skip
    """Cast the model to config.dtype, keep a frozen copy (`reference`), add LoRA adapters
    (config.lora_rank > 0, their starting weights drawn from config.seed), checkpoint its blocks,
    shard it under torchrun; AdamW over what trains."""
    world = current_world()
    model.to(getattr(torch, config.dtype)).train()
    # Adapters added below start at zero, so the model they leave is the starting one: a KL
    # reference under LoRA is the model with its adapters off, and needs no copy.
    frozen = fsdp.frozen_copy(model) if reference else None
    if config.lora_rank:
        add_lora(model, LoraSettings(config.lora_rank, config.lora_alpha, lora_dropout), seed=config.seed)
    plain = fsdp.plain_copy(model, world)  # copies come before wrapping and sharding
    if config.gradient_checkpointing:
        checkpoint_blocks(model)
    model = fsdp.shard_model(model, world)
    optimizer = fsdp.adamw(model, world, lr=config.lr, betas=config.adam_betas, weight_decay=config.weight_decay)
    pad_id = getattr(tokenizer, "pad_token_id", None) or 0
    return Learner(model, plain, tokenizer, optimizer, config, world, pad_id, frozen, base_model)


def checkpoint_blocks(model: nn.Module) -> None:
    """Gradient checkpointing: each block recomputes its activations in the backward pass.

    Done from outside by wrapping each block's forward (state-dict names are unchanged);
    generation, which runs without gradients, calls the plain forward.
    """
    for block in model.layers:
        forward = block.forward

        @functools.wraps(forward)
        def wrapped(*args, _forward=forward, **kwargs):
            if torch.is_grad_enabled():
                return torch.utils.checkpoint.checkpoint(_forward, *args, use_reentrant=False, **kwargs)
            return _forward(*args, **kwargs)

        block.forward = wrapped


def device_of(model: nn.Module) -> torch.device:
    """The device a model's (first) parameters are on."""
    return next(model.parameters()).device
