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

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.weak import WeakTensorKeyDictionary

MEMORY_SHARE = 0.5  # the most of the available memory the packed copies may take

# weight -> (its version when packed, the packed copy; None until first used)
_PACKED = WeakTensorKeyDictionary()
# the first of stacked weights -> (their versions and identities when packed, the packed stack)
_FUSED = WeakTensorKeyDictionary()


class Linear(nn.Linear):
    """`nn.Linear` whose forward takes the packed kernel where `prepack` allowed it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """x @ weight.T + bias: through the packed copy of `weight` where it has one and it serves."""
    if torch.compiler.is_compiling() or weight not in _PACKED or x.dtype != weight.dtype:
        return F.linear(x, weight, bias)
    if torch.is_grad_enabled() and (weight.requires_grad or x.requires_grad or (bias is not None and bias.requires_grad)):
        return F.linear(x, weight, bias)
    version, packed = _PACKED[weight]
    if packed is None or version != weight._version:
        packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach(), 1)
        _PACKED[weight] = (weight._version, packed)
    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")


def fused(x: torch.Tensor, modules: tuple[nn.Module, ...]) -> tuple[torch.Tensor, ...]:
    """Each module applied to x, as one product with their weights stacked where all are packed
    `Linear`s (q, k and v; gate and up): one pass over memory instead of several, and each
    output bit for bit its own product's. Any other module (a LoRA or int8 layer) runs as itself."""
    first = modules[0].weight if all(type(m) is Linear and m.bias is None for m in modules) else None
    if first is None or torch.compiler.is_compiling() or first not in _PACKED or x.dtype != first.dtype:
        return tuple(module(x) for module in modules)
    weights = [module.weight for module in modules]
    if torch.is_grad_enabled() and (x.requires_grad or any(w.requires_grad for w in weights)):
        return tuple(module(x) for module in modules)
    versions = tuple(w._version for w in weights) + tuple(id(w) for w in weights)
    known = _FUSED.get(first)
    if known is None or known[0] != versions:
        known = (versions, torch.ops.mkldnn._reorder_linear_weight(torch.cat([w.detach() for w in weights]), 1))
        _FUSED[first] = known
    out = torch.ops.mkldnn._linear_pointwise(x, known[1], None, "none", [], "")
    return out.split([w.shape[0] for w in weights], dim=-1)


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
