"""Int8 weight-only quantisation: logits close to the float model's, half the bytes, the user path.

Error bound: per-row absmax scaling rounds each weight by at most scale / 2 = max|w| / 254,
uniformly, so a Gaussian row of width >= 64 (max|w| ~ 3 sigma) carries relative noise of
about 3 / 254 / sqrt(3) ~ 0.7%. A token's logits pass through 7 quantised matmuls per layer;
independent errors add in quadrature, ~0.7% * sqrt(7 * layers): 2.6% for two layers. The
tiny test allows 5% (measured: 3.1% in float32, 3.7% in bf16). Large random weights keep
logits O(1), so top-1 choices are not near-ties and at least 90% must survive (measured: 94%).
"""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch

from reasoning.checkpoint import load_model_and_tokenizer, load_pretrained, save_pretrained
from reasoning.generation import generate
from reasoning.commands.generate import QUANTIZE
from reasoning.model.config import Qwen3Config
from reasoning.model.quantize import METHODS, Int8Linear, is_quantized, quantize_int8, quantize_model
from reasoning.model.qwen3 import Qwen3Model
from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer

TINY = Qwen3Config(
    vocab_size=512, hidden_size=64, intermediate_size=96, num_layers=2, num_heads=4, num_kv_heads=2, head_dim=32,
    max_position_embeddings=256,
)  # fmt: skip
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
TEXT = "Let x be the smallest positive integer such that 3x + 7 is divisible by 11. Find x, then explain why."


def tiny_model(config: Qwen3Config = TINY, seed: int = 0) -> Qwen3Model:
    """Large random weights (as in test_generation), so logits are O(1) and top-1 is no coin toss."""
    torch.manual_seed(seed)
    model = Qwen3Model(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(1 + 0.5 * torch.randn_like(param)) if name.endswith("norm.weight") else param.normal_(0, 0.3)
    return model


@torch.no_grad()
def compare(model: Qwen3Model, ids: torch.Tensor) -> tuple[float, float]:
    """(relative L2 error of all logits, top-1 agreement) of `model` int8-quantised against itself."""
    quantized = quantize_int8(copy.deepcopy(model))
    expected, got = (m.logits(m(ids)).float() for m in (model, quantized))
    relative = float((got - expected).norm() / expected.norm())
    return relative, float((got.argmax(-1) == expected.argmax(-1)).float().mean())


def projection_bytes(model: Qwen3Model) -> int:
    return sum(p.numel() * p.element_size() for n, p in model.layers.named_parameters() if n.rsplit(".", 2)[-2] in PROJECTIONS)


def test_int8_logits_stay_close_to_float_on_tiny_model():
    ids = torch.randint(0, TINY.vocab_size, (4, 48), generator=torch.Generator().manual_seed(1))
    relative, agreement = compare(tiny_model(), ids)
    assert relative < 0.05
    assert agreement >= 0.9


@pytest.mark.slow
def test_int8_logits_stay_close_to_float_at_the_06b_shape():
    """28 layers: quadrature predicts ~0.7% * sqrt(7 * 28) ~ 10% in the blocks; the residual
    stream and the unquantised head keep the logits closer (measured: 4.1%, top-1 28 of 29)."""
    torch.manual_seed(0)
    model = Qwen3Model(Qwen3Config.from_name("0.6B")).to(torch.bfloat16).eval()
    tokenizer = Qwen3Tokenizer(build_offline_tokenizer())
    relative, agreement = compare(model, torch.tensor([tokenizer.encode(TEXT)]))
    assert relative < 0.1
    assert agreement >= 0.9


def test_every_block_projection_is_int8_and_the_rest_untouched():
    model = quantize_int8(tiny_model())
    swapped = {name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, Int8Linear)}
    assert swapped == set(PROJECTIONS)
    assert model.layers[0].self_attn.q_proj.weight.dtype == torch.int8
    assert model.embed_tokens.weight.dtype == torch.float32 and model.norm.weight.dtype == torch.float32
    assert "layers.0.self_attn.q_proj.weight" in model.state_dict()  # Hugging Face names kept


def test_int8_halves_the_bytes_of_the_linear_layers():
    model = tiny_model().to(torch.bfloat16)
    before = projection_bytes(model)
    quantize_int8(model)
    rows = sum(m.out_features for m in model.modules() if isinstance(m, Int8Linear))
    assert projection_bytes(model) == before // 2 + 2 * rows  # int8 weights plus one bf16 scale per row
    assert projection_bytes(model) < 0.52 * before


def test_quantize_is_idempotent_and_meta_sizes_without_memory():
    with torch.device("meta"):
        model = Qwen3Model(Qwen3Config.from_name("0.6B")).to(torch.bfloat16)
    quantize_int8(quantize_int8(model))
    assert model.layers[27].mlp.down_proj.weight.dtype == torch.int8
    assert model.layers[27].mlp.down_proj.weight.device.type == "meta"


@torch.no_grad()
def test_small_batches_and_long_inputs_take_two_paths_to_the_same_result():
    """Up to 16 rows run torch's int8 kernel; more rows dequantise for the float GEMM."""
    layer = Int8Linear.from_linear(torch.nn.Linear(64, 96, bias=False))
    x = torch.randn(40, 64)
    whole = layer(x)
    assert torch.allclose(torch.cat([layer(x[i : i + 8]) for i in range(0, 40, 8)]), whole, atol=1e-5)
    assert torch.allclose(whole, x @ (layer.weight.float() * layer.scale[:, None]).T, atol=1e-5)


def test_load_pretrained_int8_and_generate_text(tmp_path):
    """The user path: a saved checkpoint, load_pretrained(quantize="int8"), then the engine with a tokenizer."""
    tokenizer = Qwen3Tokenizer(build_offline_tokenizer())
    model = tiny_model(replace(TINY, vocab_size=151_936))
    save_pretrained(model, tokenizer, tmp_path / "tiny")
    loaded, loaded_tokenizer = load_pretrained(tmp_path / "tiny", device="cpu", dtype=torch.float32, quantize="int8")
    assert is_quantized(loaded)
    ids = torch.tensor([tokenizer.encode(TEXT)])
    with torch.no_grad():
        assert torch.equal(loaded.logits(loaded(ids)), quantize_int8(model).logits(model(ids)))
    [result] = generate(loaded, loaded_tokenizer, [TEXT], max_new_tokens=8, eos_token_ids=[])
    assert len(result.token_ids) == 8 and isinstance(result.text, str)


def test_engine_greedy_with_cache_equals_plain_forward_on_quantized_model():
    model = quantize_int8(tiny_model())
    prompts = [[5, 17, 300, 2, 9], [44, 3]]
    results = generate(model, None, prompts, max_new_tokens=12, eos_token_ids=[], max_batch_size=2)
    for prompt, result in zip(prompts, results):
        sequence = list(prompt)
        with torch.no_grad():
            for _ in range(12):
                sequence.append(int(model.logits(model(torch.tensor([sequence]))[0, -1]).argmax()))
        assert list(result.token_ids) == sequence[len(prompt) :]


def test_quantized_model_traces_without_graph_breaks():
    model = quantize_int8(tiny_model().to(torch.bfloat16))
    torch._dynamo.reset()
    with torch.no_grad():
        explained = torch._dynamo.explain(model)(torch.tensor([[5, 17, 300]]))
    torch._dynamo.reset()
    assert explained.graph_break_count == 0, explained.break_reasons


def test_unknown_quantize_method_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="'int4'.*none, int8"):
        quantize_model(tiny_model(), "int4")
    with pytest.raises(ValueError, match="'fp8'"):
        load_pretrained(tmp_path, quantize="fp8")  # refused before the directory is even read
    with pytest.raises(ValueError, match="'int4'"):
        load_model_and_tokenizer("0.6B", "cpu", quantize="int4")


def test_save_pretrained_refuses_a_quantized_model(tmp_path):
    with pytest.raises(ValueError, match="int8-quantized"):
        save_pretrained(quantize_int8(tiny_model()), None, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_choices_match_the_methods():
    assert QUANTIZE == METHODS
