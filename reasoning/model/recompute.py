"""RMSNorm and SwiGLU whose backward passes keep only their inputs, for lean training.

Through plain autograd, the float32 RMSNorm keeps a float32 copy of its input (twice the bytes
of a bf16 activation) and SwiGLU keeps silu(gate) besides gate and up. At the 0.6B shape that
is 16 of the ~60 MiB a LoRA step keeps per layer and 1,024 tokens (26 of ~70 MiB in full
fine-tuning). These functions run the same forward operations (the same bits out) and keep
their inputs and RMSNorm's per-row scale; the backward pass recomputes the rest (RMSNorm's
gradient in float32, SwiGLU's as autograd takes it). First derivatives only.

Without gradients (decoding, evaluation, compiled steps) the plain operations run.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """weight * (x / rms(x)), the norm taken in float32 and rounded to x's dtype before the weight."""
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
        return _RMSNorm.apply(x, weight, eps)
    normed, _ = _normalize(x, eps)
    return weight * normed.to(x.dtype)


def swiglu(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """silu(gate) * up."""
    if torch.is_grad_enabled() and (gate.requires_grad or up.requires_grad):
        return _SwiGLU.apply(gate, up)
    return F.silu(gate) * up


def _normalize(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """x / rms(x) in float32 [..., H] and 1 / rms(x) [..., 1]."""
    x32 = x.float()
    scale = torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return x32 * scale, scale


class _RMSNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, eps):
        normed, scale = _normalize(x, eps)
        ctx.save_for_backward(x, weight, scale)
        return weight * normed.to(x.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, weight, scale = ctx.saved_tensors
        normed = x.float() * scale
        grad = grad.float()
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            # y = x * s with s = (mean(x^2) + eps)^(-1/2): dL/dx = s * (g - y * mean(g * y)), g = dL/dy.
            grad_normed = grad * weight.float()
            grad_x = (scale * (grad_normed - normed * (grad_normed * normed).mean(-1, keepdim=True))).to(x.dtype)
        if ctx.needs_input_grad[1]:
            grad_weight = (grad * normed.to(x.dtype).float()).sum_to_size(weight.shape).to(weight.dtype)
        return grad_x, grad_weight, None


class _SwiGLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, gate, up):
        ctx.save_for_backward(gate, up)
        return F.silu(gate) * up

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        gate, up = ctx.saved_tensors  # what plain autograd computes, with silu(gate) recomputed
        grad_gate = torch.ops.aten.silu_backward(grad * up, gate) if ctx.needs_input_grad[0] else None
        grad_up = grad * F.silu(gate) if ctx.needs_input_grad[1] else None
        return grad_gate, grad_up
