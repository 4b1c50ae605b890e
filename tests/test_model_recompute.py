"""RMSNorm and SwiGLU that keep only their inputs for backward: the plain operations' values
to the bit, gradients as float64 autograd's, and less kept for the backward pass."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reasoning.model.recompute import rms_norm, swiglu


def plain_rms_norm(x, weight, eps):
    x32 = x.float()
    return weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def plain_swiglu(gate, up):
    return F.silu(gate) * up


def inputs(dtype, *shapes):
    generator = torch.Generator().manual_seed(0)
    return [(torch.randn(shape, generator=generator) * 3 + 0.5).to(dtype).requires_grad_() for shape in shapes]


def kept_bytes(function, *args) -> int:
    """Bytes of distinct storage autograd keeps for backward."""
    storages = {}

    def pack(tensor):
        storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        function(*args)
    return sum(storages.values())


CASES = {
    "rms_norm": (rms_norm, plain_rms_norm, lambda dtype: (*inputs(dtype, (2, 5, 256), (256,)), 1e-6)),
    "swiglu": (swiglu, plain_swiglu, lambda dtype: tuple(inputs(dtype, (2, 5, 384), (2, 5, 384)))),
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_values_are_the_plain_operations_bits_and_gradients_are_float64_autograds(name, dtype):
    lean, plain, make = CASES[name]
    args = make(dtype)
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    out = lean(*args)
    assert out.dtype == dtype and torch.equal(out, plain(*args))
    upstream = torch.randn(out.shape, generator=torch.Generator().manual_seed(1)).to(dtype)
    grads = torch.autograd.grad(out, tensors, upstream)
    exact = [a.detach().double().requires_grad_() if isinstance(a, torch.Tensor) else a for a in args]
    expected = torch.autograd.grad(plain(*exact), [a for a in exact if isinstance(a, torch.Tensor)], upstream.double())
    tolerance = 1e-5 if dtype == torch.float32 else 2e-2
    for grad, reference, tensor in zip(grads, expected, tensors, strict=True):
        assert grad.dtype == tensor.dtype and grad.shape == tensor.shape
        assert torch.allclose(grad.double(), reference, rtol=tolerance, atol=tolerance * reference.abs().max())


@pytest.mark.parametrize("name", CASES)
def test_backward_keeps_less_than_plain_autograd(name):
    lean, plain, make = CASES[name]
    args = make(torch.bfloat16)
    if name == "rms_norm":
        args[1].requires_grad_(False)  # a frozen norm weight, as under LoRA
    activation = args[0].numel() * 2
    # RMSNorm: the bf16 input, the weight and one float32 scale per row, not the float32 input;
    # SwiGLU: gate and up, not silu(gate) as well.
    assert kept_bytes(lean, *args) <= activation * (1.2 if name == "rms_norm" else 2)
    assert kept_bytes(plain, *args) >= activation * (2 if name == "rms_norm" else 3)


def test_without_gradients_the_plain_operations_run(monkeypatch):
    from reasoning.model import recompute

    def refuse(*args):
        raise AssertionError("the autograd function ran without gradients")

    monkeypatch.setattr(recompute._RMSNorm, "apply", refuse)
    monkeypatch.setattr(recompute._SwiGLU, "apply", refuse)
    x, weight = inputs(torch.bfloat16, (3, 64), (64,))
    with torch.no_grad():
        assert torch.equal(rms_norm(x, weight, 1e-6), plain_rms_norm(x, weight, 1e-6))
        assert torch.equal(swiglu(x, x), plain_swiglu(x, x))
    with torch.inference_mode():
        assert torch.equal(rms_norm(x, weight, 1e-6), plain_rms_norm(x, weight, 1e-6))


@pytest.mark.parametrize(("x_dtype", "weight_dtype"), [(torch.bfloat16, torch.float32), (torch.float32, torch.bfloat16)])
@pytest.mark.parametrize("trains", ["both", "weight", "input"])
def test_rms_norm_with_mixed_dtypes_and_either_input_frozen(x_dtype, weight_dtype, trains):
    (x,), (weight,) = inputs(x_dtype, (4, 7, 256)), inputs(weight_dtype, (256,))
    x.requires_grad_(trains != "weight")
    weight.requires_grad_(trains != "input")
    out = rms_norm(x, weight, 1e-6)
    assert torch.equal(out, plain_rms_norm(x, weight, 1e-6))
    upstream = torch.randn(out.shape, generator=torch.Generator().manual_seed(1)).to(out.dtype)
    tensors = [t for t in (x, weight) if t.requires_grad]
    grads = torch.autograd.grad(out, tensors, upstream)
    exact = [t.detach().double().requires_grad_(t.requires_grad) for t in (x, weight)]
    expected = torch.autograd.grad(plain_rms_norm(exact[0], exact[1], 1e-6), [t for t in exact if t.requires_grad], upstream.double())
    for grad, reference, tensor in zip(grads, expected, tensors, strict=True):
        assert grad.dtype == tensor.dtype
        assert torch.allclose(grad.double(), reference, rtol=2e-2, atol=2e-2 * reference.abs().max())


def test_second_derivatives_are_refused_not_wrong():
    x, weight = inputs(torch.float32, (3, 64), (64,))
    (grad,) = torch.autograd.grad(rms_norm(x, weight, 1e-6).square().sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|does not require grad|twice"):
        grad.sum().backward()
