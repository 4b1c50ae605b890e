"""Linear layers through oneDNN's prepacked bf16 kernels: bit for bit `F.linear`, fresh after a
weight changes, never under autograd, and declined where they do not apply."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reasoning.generation import generate
from reasoning.model import packed
from reasoning.model.config import Qwen3Config
from reasoning.model.packed import Linear, fused, is_packed, linear, prepack, unpack
from reasoning.model.qwen3 import Qwen3Model

pytestmark = pytest.mark.skipif(not packed._has_bf16_kernels(), reason="this CPU has no oneDNN bf16 kernels to pack for")

SMALL = Qwen3Config(
    vocab_size=1000, hidden_size=128, intermediate_size=384, num_layers=2, num_heads=4, num_kv_heads=2, head_dim=32,
    max_position_embeddings=256,
)  # fmt: skip


def bf16_model(seed: int = 0) -> Qwen3Model:
    torch.manual_seed(seed)
    model = Qwen3Model(SMALL).bfloat16().eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.3)
    return model


@pytest.mark.parametrize("rows", [1, 2, 7, 8, 31, 64, 257])
def test_the_packed_kernel_gives_f_linears_bits(rows):
    layer = Linear(256, 384, bias=False).bfloat16()
    assert prepack(layer)
    x = torch.randn(1, rows, 256).bfloat16()
    with torch.inference_mode():
        assert torch.equal(layer(x), F.linear(x, layer.weight))
        assert torch.equal(linear(x[0], layer.weight), F.linear(x[0], layer.weight))


def test_stacked_weights_give_each_products_bits():
    layers = tuple(Linear(128, size, bias=False).bfloat16() for size in (256, 64, 64))
    for layer in layers:
        prepack(layer)
    x = torch.randn(3, 5, 128).bfloat16()
    with torch.inference_mode():
        for got, layer in zip(fused(x, layers), layers):
            assert torch.equal(got, F.linear(x, layer.weight))


def test_a_stack_follows_its_modules_weights_and_is_freed_with_them():
    """The stack is rebuilt when a weight changes in place or a module or weight is replaced
    (a replacement weight with the same version counter included);
    a module of another kind runs as itself; and the cache does not keep a model alive."""
    import gc

    layers = [Linear(64, size, bias=False).bfloat16() for size in (96, 32, 32)]
    for layer in layers:
        prepack(layer)
    x = torch.randn(2, 64).bfloat16()

    def check(layers: list[torch.nn.Module]) -> None:
        with torch.inference_mode():
            for got, layer in zip(fused(x, tuple(layers)), layers):
                assert torch.equal(got, layer(x) if type(layer) is not Linear else F.linear(x, layer.weight))

    check(layers)
    with torch.no_grad():
        layers[2].weight.mul_(-1)  # a training step on the last of them
    check(layers)
    layers[1] = Linear(64, 32, bias=False).bfloat16()  # a module replaced
    prepack(layers[1])
    check(layers)
    replacement = torch.nn.Parameter(torch.randn(32, 64).bfloat16())  # a weight replaced (load_state_dict(assign=True)) ...
    with torch.no_grad():
        while replacement._version < layers[1].weight._version:  # ... by one whose version counter reads the same
            replacement.add_(0)
    assert replacement._version == layers[1].weight._version
    layers[1].weight = replacement
    prepack(layers[1])
    check(layers)
    layers[0].weight = torch.nn.Parameter(torch.randn(96, 64).bfloat16())  # the first weight, the stack's key, replaced
    prepack(layers[0])
    check(layers)
    layers[2] = torch.nn.Linear(64, 32, bias=False).bfloat16()  # another kind of module: not stacked
    check(layers)
    assert layers[0].weight not in packed._FUSED or not packed._serves(packed._FUSED[layers[0].weight], tuple(layers))
    stacked = len(packed._FUSED)
    del layers
    gc.collect()
    assert len(packed._FUSED) < stacked


def test_a_weight_changed_in_place_is_packed_again():
    layer = Linear(64, 64, bias=False).bfloat16()
    prepack(layer)
    x = torch.randn(2, 64).bfloat16()
    with torch.inference_mode():
        before = layer(x)
    with torch.no_grad():
        layer.weight.mul_(2)  # a training step
    with torch.inference_mode():
        assert torch.equal(layer(x), F.linear(x, layer.weight)) and not torch.equal(layer(x), before)


def test_autograd_takes_f_linear_and_gradients_flow():
    model = bf16_model()
    assert prepack(model)
    model.logits(model(torch.tensor([[1, 2, 3]]))).float().sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_packed_decoding_gives_the_same_tokens_and_log_probs():
    model = bf16_model()
    prompts = [[5, 6, 7], [9] * 20, [1, 2]]
    unpack(model)
    options = dict(max_new_tokens=12, eos_token_ids=[], max_batch_size=2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("reasoning.generation.engine.prepack", lambda model: False)
        plain = generate(model, None, prompts, **options)
        assert not any(is_packed(w) for w in packed._linear_weights(model))
    fast = generate(model, None, prompts, **options)
    assert all(is_packed(w) for w in packed._linear_weights(model))  # the engine marked them
    assert packed._PACKED[model.layers[0].self_attn.o_proj.weight][1] is not None  # and decoded through the packed kernel
    assert model.layers[0].self_attn.q_proj.weight in packed._FUSED  # q, k and v as one product
    assert [r.token_ids for r in fast] == [r.token_ids for r in plain]
    assert [r.logprobs for r in fast] == [r.logprobs for r in plain]


def test_prepack_declines_float32_and_what_memory_cannot_hold(monkeypatch):
    assert not prepack(Qwen3Model(SMALL).eval())  # float32: MKL's packed kernel would round differently
    with torch.inference_mode():
        assert not prepack(Qwen3Model(SMALL).bfloat16())  # inference tensors: no version counter to see changes
    model = bf16_model()
    monkeypatch.setattr(packed, "available_memory", lambda: 1000)
    assert not prepack(model) and not any(is_packed(w) for w in packed._linear_weights(model))
