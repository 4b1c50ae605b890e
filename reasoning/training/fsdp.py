"""FSDP2 under torchrun: the model sharded over ranks, its plain copy, and whole states gathered.

Under `torchrun` (WORLD_SIZE > 1) the model being trained is sharded with FSDP2 (`fully_shard`
on each block, then on the whole model): parameters, gradients and AdamW state are split over
ranks. Generation (GRPO's rollouts, periodic evaluation) and saving use a plain, unsharded copy
of the weights (gathered when needed, as verl and OpenRLHF hand weights to their inference
engines), because a sharded model would need every rank to run the same number of forward
passes, and generations end at different times. On one process every function here is a
no-op or a plain call, and the plain copy is the model itself.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
)

from reasoning.distributed import World

_FULL = StateDictOptions(full_state_dict=True)  # gathered on every rank
_FULL_ON_MAIN = StateDictOptions(full_state_dict=True, cpu_offload=True)  # gathered to rank 0's CPU only


def shard_model(model: nn.Module, world: World) -> nn.Module:
    """FSDP2-shard `model` (each block, then the root) across the ranks; unchanged on one process."""
    if not world.distributed:
        return model
    from torch.distributed.fsdp import fully_shard

    for block in model.layers:
        fully_shard(block)
    fully_shard(model)
    return model


def adamw(model: nn.Module, world: World, *, lr: float, betas: tuple[float, float], weight_decay: float) -> torch.optim.Optimizer:
    """AdamW over the parameters that train (only the adapters under LoRA), gradients cleared.

    A frozen weight's stale gradient (a warm-up's) would count in the clipped norm. The fused
    kernel (one pass over each tensor) is ~10x faster than the per-tensor loop on CPU; sharded
    (DTensor) parameters take the default implementation.
    """
    model.zero_grad(set_to_none=True)
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    fused = not world.distributed and trainable[0].device.type in ("cpu", "cuda")
    return torch.optim.AdamW(trainable, lr=lr, betas=betas, weight_decay=weight_decay, fused=fused or None)


def plain_copy(model: nn.Module, world: World) -> nn.Module:
    """The model generation and saving use: the model itself, or (call before sharding) a plain copy."""
    if not world.distributed:
        return model
    return copy.deepcopy(model).eval().requires_grad_(False)


def sync_plain_copy(model: nn.Module, plain: nn.Module, world: World) -> None:
    """Refresh the plain copy with the trained model's current weights (an all-gather); no-op on one process.

    Only the weights that train travel: frozen ones (the base under LoRA) are the copy's since
    it was made, so a LoRA step gathers megabytes of adapters, not the whole model."""
    if world.distributed:
        frozen = any(not parameter.requires_grad for parameter in model.parameters())
        options = StateDictOptions(full_state_dict=True, ignore_frozen_params=frozen)
        plain.load_state_dict(get_model_state_dict(model, options=options), strict=not frozen)


def frozen_copy(model: nn.Module) -> nn.Module:
    """A frozen, unsharded copy of a plain model (GRPO's KL reference); call before sharding."""
    return copy.deepcopy(model).eval().requires_grad_(False)


def full_model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The whole model's state dict on every rank (on the model's device), sharded or not."""
    return get_model_state_dict(model, options=_FULL)


def load_full_model_state(model: nn.Module, state: dict[str, torch.Tensor], *, strict: bool = True) -> None:
    """Load a whole-model state dict (or, not `strict`, some of its tensors) into a sharded or plain model."""
    set_model_state_dict(model, state, options=StateDictOptions(full_state_dict=True, strict=strict))


def full_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's whole state keyed by parameter names (on rank 0; portable across world sizes)."""
    return get_optimizer_state_dict(model, optimizer, options=_FULL_ON_MAIN)


def load_full_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Load a name-keyed, whole optimizer state (from `full_optimizer_state`) into a fresh optimizer.

    Each moment is cut to the shard of its parameter (DTensor placements) under FSDP2; done
    by hand because torch's set_optimizer_state_dict needs an optimizer that has stepped.
    """
    parameters = dict(model.named_parameters())
    order = {id(p): name for name, p in parameters.items()}
    names = [order[id(p)] for group in optimizer.param_groups for p in group["params"]]
    missing = [name for name in names if name not in state["state"]]
    if missing:
        raise ValueError(f"optimizer state lacks parameters {missing[:4]}: saved from another model?")
    local = {}
    for index, name in enumerate(names):
        param = parameters[name]
        local[index] = {key: _like(value, param) for key, value in state["state"][name].items()}
    groups, start = [], 0
    for saved, group in zip(state["param_groups"], optimizer.param_groups):
        count = len(group["params"])
        groups.append({**saved, "params": list(range(start, start + count))})
        start += count
    optimizer.load_state_dict({"state": local, "param_groups": groups})


def _like(value: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
    """A saved moment shaped like its parameter: sharded like a DTensor parameter; scalars as they are."""
    if value.shape != param.shape or value.ndim == 0:
        return value
    if hasattr(param, "device_mesh"):
        from torch.distributed.tensor import distribute_tensor

        return distribute_tensor(value.to(param.device, param.dtype), param.device_mesh, param.placements)
    return value.to(param.device, param.dtype)


def gradient_scale(world: World) -> float:
    """What to multiply a rank's share of the loss by: FSDP averages gradients over ranks,
    while our per-token weights already divide by the whole batch, so the sum is wanted."""
    return float(world.world_size)


def clip_grad_norm(model: nn.Module, max_norm: float) -> float:
    """Clip the global gradient norm to max_norm (0: measure only); the norm before clipping."""
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm if max_norm > 0 else float("inf"))
    if hasattr(norm, "full_tensor"):  # a DTensor under FSDP2
        norm = norm.full_tensor()
    return float(norm)
