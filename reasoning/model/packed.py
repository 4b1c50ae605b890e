"""Linear layers through oneDNN's prepacked bf16 kernels on a CPU: decoding at twice the bandwidth.

Decoding one token reads every weight once, so on a CPU its speed is the speed at which a
matrix-vector product streams a weight from memory. PyTorch's eager bf16 `F.linear` streams
about 16 GB/s on a 2-core AMD EPYC; oneDNN's kernel on a weight reordered once into its blocked
layout streams about 28 GB/s, and its results are bit for bit those of `F.linear` (checked for
1 to 257 rows in tests/test_model_packed.py). This is what inductor's freezing does inside a
compiled graph; here it serves eager decoding, with no compile.

`prepack(model)` marks a model's linear weights (and its LM head) for packing; each is
reordered at its first use without autograd (inference mode or no_grad) and reordered again
when it has changed in place (a training step), so a packed copy never serves stale weights.
Where autograd records, under torch.compile, for float32 weights, off a CPU, or without oneDNN
bf16 kernels, `linear` is `F.linear`. The packed copies cost one more copy of those weights'
memory, so `prepack` declines where that would take more than half the memory available.
"""

from __future__ import annotations

import functools
import os
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.weak import WeakTensorKeyDictionary

MEMORY_SHARE = 0.5  # the most of the available memory the packed copies may take

# weight -> (its version when packed, the packed copy; None until first used)
_PACKED = WeakTensorKeyDictionary()
# the first of stacked weights -> the stack (`_Stack`: its modules, weights and their versions, the packed copy)
_FUSED = WeakTensorKeyDictionary()


class Linear(nn.Linear):
    """`nn.Linear` whose forward takes the packed kernel where `prepack` allowed it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """x @ weight.T + bias: through the packed copy of `weight` where it has one and it serves."""
    entry = None if torch.compiler.is_compiling() else _PACKED.get(weight)
    if entry is None or x.dtype != weight.dtype or _records_grad(x, weight, bias):
        return F.linear(x, weight, bias)
    version, packed = entry
    if packed is None or version != weight._version:
        packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach(), 1)
        _PACKED[weight] = (weight._version, packed)
    return _packed_linear()(x, packed, bias, "none", [], "")


def fused(x: torch.Tensor, modules: tuple[nn.Module, ...]) -> tuple[torch.Tensor, ...]:
    """Each module applied to x, as one product with their weights stacked where all are packed
    `Linear`s (q, k and v; gate and up): one pass over memory instead of several, and each
    output bit for bit its own product's. Any other module (a LoRA or int8 layer) runs as itself."""
    known = _stack_for(x, modules)
    if known is None:
        return tuple(module(x) for module in modules)
    return _packed_linear()(x, known.stack, None, "none", [], "").split(known.sizes, dim=-1)


class _Stack(NamedTuple):
    """Weights stacked and packed as one, and what they were stacked from (by identity: a value
    holding the modules would keep its own key, their first weight, alive)."""

    modules: tuple[int, ...]
    weights: tuple[int, ...]
    versions: tuple[int, ...]
    stack: torch.Tensor
    sizes: list[int]


def _stack_for(x: torch.Tensor, modules: tuple[nn.Module, ...]) -> _Stack | None:
    """The packed stack of the modules' weights, stacked now if it is missing or stale; None
    where they do not qualify (packed `Linear`s without bias, x in their dtype, no autograd)."""
    first = modules[0].weight if type(modules[0]) is Linear else None
    if first is None or torch.compiler.is_compiling() or x.dtype != first.dtype:
        return None
    known = _FUSED.get(first)
    if known is None or not _serves(known, modules):
        if first not in _PACKED or not all(type(m) is Linear and m.bias is None for m in modules):
            return None
        known = None
    if torch.is_grad_enabled() and (x.requires_grad or any(m.weight.requires_grad for m in modules)):
        return None
    if known is None:
        weights = [module.weight for module in modules]
        stack = torch.ops.mkldnn._reorder_linear_weight(torch.cat([w.detach() for w in weights]), 1)
        versions = tuple(w._version for w in weights)
        known = _Stack(tuple(map(id, modules)), tuple(map(id, weights)), versions, stack, [w.shape[0] for w in weights])
        _FUSED[first] = known
    return known


def _serves(known: _Stack, modules: tuple[nn.Module, ...]) -> bool:
    """Whether `known` still is these modules' weights as they are now. Decoding asks twice per
    layer and token, so it reads the parameters' dict directly (`module.weight` goes through
    `nn.Module.__getattr__`, several times slower)."""
    if len(modules) != len(known.modules):
        return False
    for module, module_id, weight_id, version in zip(modules, known.modules, known.weights, known.versions):
        if type(module) is not Linear or id(module) != module_id:
            return False
        parameters = module._parameters
        weight = parameters["weight"]
        if id(weight) != weight_id or weight._version != version or parameters["bias"] is not None:
            return False
    return True


def _records_grad(*tensors: torch.Tensor | None) -> bool:
    """Whether autograd would record an operation on these tensors (the packed kernel has no backward)."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


@functools.cache
def _packed_linear():
    """oneDNN's linear on a packed weight, as its overload (which skips the packet's lookup per call)."""
    return torch.ops.mkldnn._linear_pointwise.default


def prepack(model: nn.Module) -> bool:
    """Mark `model`'s bf16 linear weights and LM head for packing (see the module docstring); True
    when they are (or were already). Idempotent and cheap: nothing is reordered until used."""
    weights = _linear_weights(model)
    if not weights or not all(w.device.type == "cpu" and w.dtype == torch.bfloat16 for w in weights):
        return False
    if not _has_bf16_kernels() or any(type(w).__name__ == "DTensor" for w in weights):  # sharded (FSDP2): not ours to copy
        return False
    if any(w.is_inference() for w in weights):  # made under inference_mode: no version counter says when they change
        return False
    if all(w in _PACKED for w in weights):
        return True
    needed = sum(w.numel() * w.element_size() for w in weights if w not in _PACKED)
    if needed > MEMORY_SHARE * available_memory():
        return False
    for weight in weights:
        if weight not in _PACKED:
            _PACKED[weight] = (weight._version, None)
    return True


def unpack(model: nn.Module) -> None:
    """Drop `model`'s packed copies and marks (their memory returns)."""
    for weight in _linear_weights(model):
        _PACKED.pop(weight, None)
        _FUSED.pop(weight, None)


def is_packed(weight: torch.Tensor) -> bool:
    """Whether `weight` is marked for packing."""
    return weight in _PACKED


def _linear_weights(model: nn.Module) -> list[torch.Tensor]:
    weights = [module.weight for module in model.modules() if isinstance(module, Linear)]
    head = getattr(model, "head_weight", None)
    return weights + ([head] if isinstance(head, torch.Tensor) and all(head is not w for w in weights) else [])


@functools.cache
def _has_bf16_kernels() -> bool:
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def available_memory() -> int:
    """Bytes of memory available to this process (Linux), else half of the machine's."""
    try:
        with open("/proc/meminfo") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
