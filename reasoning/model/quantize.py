"""Weight-only int8 quantisation of the transformer blocks' linear layers, calibration-free.

Each projection of attention (q/k/v/o) and of the dense MLP (gate/up/down) becomes an
`Int8Linear`: int8 weights [out, in] with one symmetric scale per output channel (absmax / 127,
as in gpt-fast and torchao's int8 weight-only). Activations stay in the model's dtype. Decoding
is memory-bound, so reading half the bytes makes it faster; the weights of those layers take
half the memory. Left in their dtype: the embedding and the LM head (tied to the embedding in
the small models, so an int8 head would be a second copy), the norms, the MoE router and the
MoE experts (stacked [E, out, in] tensors run by grouped matmuls; no int8 kernel for those here).
Module and tensor names stay the Hugging Face ones (`q_proj.weight`, now int8, plus
`q_proj.scale`). The Hugging Face layout has no place for these, so `save_pretrained` refuses
a quantised model: save the model before quantising it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reasoning.model.qwen3 import MLP, Attention

METHODS = ("none", "int8")
# Up to this many rows (tokens x batch) per call, torch's CPU int8 kernel wins: it reads the
# int8 weight directly, ~3x faster than bf16 F.linear at one row. Its cost grows with the rows
# (a loop over GEMVs), so prefill and large batches dequantise and use the bf16 GEMM instead
# (measured on an AVX-512 EPYC, 2 threads: break-even near 16 rows).
KERNEL_MAX_ROWS = 16
_HAS_KERNEL = hasattr(torch, "_weight_int8pack_mm")  # a private op (torch 2.13 has it); without it, the cast path


class Int8Linear(nn.Module):
    """A bias-free linear layer with int8 weights and a float scale per output channel."""

    def __init__(self, weight: torch.Tensor, scale: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)  # int8 [out, in]
        self.scale = nn.Parameter(scale, requires_grad=False)  # [out], the model's float dtype

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8Linear:
        """Quantise `linear`'s weight: per row, scale = max |w| / 127 and q = round(w / scale)."""
        if linear.bias is not None:
            raise ValueError("Int8Linear has no bias; Qwen3's projections have none")
        weight = linear.weight.detach()
        # The scale is stored in the weight's dtype; quantise with that rounded scale so that
        # q * scale is the reconstruction the forward computes. The clamp keeps zero rows finite.
        scale = (weight.float().abs().amax(dim=1).clamp(min=1e-12) / 127).to(weight.dtype)
        quantized = torch.round(weight.float() / scale.float()[:, None]).clamp(-127, 127).to(torch.int8)
        return cls(quantized, scale)

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.scale.to(x.dtype)
        rows = x.numel() // self.in_features
        if x.device.type == "cpu" and rows <= KERNEL_MAX_ROWS and _HAS_KERNEL:
            out = torch._weight_int8pack_mm(x.reshape(rows, self.in_features), self.weight, scale)
            return out.view(*x.shape[:-1], self.out_features)
        # Else gpt-fast's int8 recipe: torch.compile fuses the cast into the matmul (on CPU,
        # inductor's freezing rewrites this very pattern into the int8 kernel above).
        return F.linear(x, self.weight.to(x.dtype)) * scale

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 per-channel"


def quantize_int8(model: nn.Module) -> nn.Module:
    """Replace every attention and dense-MLP projection of `model` by an `Int8Linear`, in place.

    Each float weight is freed as its layer is swapped, so the peak is the float model plus one
    layer. Idempotent; works on the meta device (for sizing). Returns `model`.
    """
    owners = [module for module in model.modules() if isinstance(module, (Attention, MLP))]
    for owner in owners:
        for name, child in list(owner.named_children()):
            if isinstance(child, nn.Linear):
                setattr(owner, name, Int8Linear.from_linear(child))
    return model


def check_method(method: str) -> str:
    """`method` if it names a quantisation ("none", "int8"), else a ValueError naming it."""
    if method not in METHODS:
        raise ValueError(f"unknown quantize method {method!r}; choose one of: {', '.join(METHODS)}")
    return method


def quantize_model(model: nn.Module, method: str) -> nn.Module:
    """Apply quantisation `method` to `model` in place ("none": unchanged) and return it."""
    return quantize_int8(model) if check_method(method) == "int8" else model


def is_quantized(model: nn.Module) -> bool:
    """Whether any layer of `model` holds int8 weights."""
    return any(isinstance(module, Int8Linear) for module in model.modules())
