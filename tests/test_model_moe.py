"""Qwen3-MoE: our sparse model against transformers' Qwen3MoeForCausalLM on tiny random checkpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from reasoning import hub
from reasoning.checkpoint import CheckpointError, load_model, save_pretrained
from reasoning.generation import generate
from reasoning.model.cache import KVCache
from reasoning.model.config import PRESETS, Qwen3Config
from reasoning.model.moe import SparseMoE, load_balancing_loss, parameter_counts, record_router_logits, route
from reasoning.model.qwen3 import Qwen3Model

from conftest import TINY

TOLERANCE = 1e-4
TINY_MOE = dict(TINY, num_experts=8, num_experts_per_tok=2, moe_intermediate_size=32)
VARIANTS = {  # (norm_topk_prob, tied, sharded, extra fields)
    "normalized-untied": (True, False, False, {}),
    "unnormalized-tied-sharded": (False, True, True, {}),
    "dense-first-layer": (True, False, False, {"mlp_only_layers": [0]}),
}


def make_hf_moe(norm_topk_prob: bool, tied: bool, seed: int = 0, **overrides):
    """A transformers Qwen3MoeForCausalLM with large random weights (logits O(1), routing far from ties)."""
    import transformers

    torch.manual_seed(seed)
    fields = {**TINY_MOE, **overrides}
    config = transformers.Qwen3MoeConfig(**fields, norm_topk_prob=norm_topk_prob, tie_word_embeddings=tied)
    model = transformers.Qwen3MoeForCausalLM(config).float().eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(1 + 0.5 * torch.randn_like(param) if name.endswith("norm.weight") else 0.3 * torch.randn_like(param))
    return model


class Pair(NamedTuple):
    reference: torch.nn.Module  # transformers' model
    ours: Qwen3Model  # loaded from the files transformers saved
    directory: Path
    variant: str


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def pair(request, tmp_path_factory) -> Pair:
    norm, tied, sharded, extra = VARIANTS[request.param]
    reference = make_hf_moe(norm, tied, **extra)
    directory = tmp_path_factory.mktemp(request.param)
    reference.save_pretrained(directory, **({"max_shard_size": 100_000} if sharded else {}))
    assert (directory / "model.safetensors.index.json").is_file() == sharded
    return Pair(reference, load_model(directory), directory, request.param)


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


# ---------------------------------------------------------------------------- parity with transformers


@torch.no_grad()
def test_full_forward_matches_transformers(pair):
    reference, ours = pair.reference, pair.ours
    ids = torch.randint(0, 512, (3, 17), generator=torch.Generator().manual_seed(1))
    expected = reference(ids).logits
    assert expected.abs().max() > 1.0
    assert max_diff(ours.logits(ours(ids)), expected) < TOLERANCE


@torch.no_grad()
def test_prefill_then_cached_steps_match_transformers(pair):
    reference, ours = pair.reference, pair.ours
    ids = torch.randint(0, 512, (2, 12), generator=torch.Generator().manual_seed(2))
    expected = reference(ids).logits
    cache = KVCache.allocate(ours.config, batch_size=2, max_len=32)
    assert max_diff(ours.logits(ours(ids[:, :8], cache=cache)), expected[:, :8]) < TOLERANCE
    for t in range(8, 12):
        assert max_diff(ours.logits(ours(ids[:, t : t + 1], cache=cache)[:, -1]), expected[:, t]) < TOLERANCE


@torch.no_grad()
def test_greedy_generation_equals_transformers_token_for_token(pair):
    reference, ours = pair.reference, pair.ours
    prompts = [[5, 77, 300, 12, 9], [400, 3]]
    results = generate(ours, None, prompts, max_new_tokens=12, eos_token_ids=[])
    for prompt, result in zip(prompts, results):
        out = reference.generate(
            torch.tensor([prompt]), max_new_tokens=12, min_new_tokens=12, do_sample=False, eos_token_id=None, pad_token_id=0
        )
        assert list(result.token_ids) == out[0, len(prompt) :].tolist()


def test_config_reads_what_transformers_writes(pair):
    norm, tied, _, extra = VARIANTS[pair.variant]
    assert "num_local_experts" in json.loads((pair.directory / "config.json").read_text())  # transformers 5's name
    config = pair.ours.config
    assert (config.num_experts, config.num_experts_per_tok, config.moe_intermediate_size) == (8, 2, 32)
    assert config.norm_topk_prob is norm and config.tie_word_embeddings is tied
    dense_first = "mlp_only_layers" in extra
    assert [isinstance(layer.mlp, SparseMoE) for layer in pair.ours.layers] == [not dense_first, True]


# ---------------------------------------------------------------------------- expert dispatch


def tiny_moe_layer(seed: int = 0, norm_topk_prob: bool = True) -> SparseMoE:
    torch.manual_seed(seed)
    layer = SparseMoE(Qwen3Config(**{**_ours(TINY_MOE), "norm_topk_prob": norm_topk_prob}))
    with torch.no_grad():
        for param in layer.parameters():
            param.normal_(0, 0.3)
    return layer


def _ours(hf_fields: dict) -> dict:
    """Our config field names for the conftest-style transformers fields."""
    renamed = {"num_hidden_layers": "num_layers", "num_attention_heads": "num_heads", "num_key_value_heads": "num_kv_heads"}
    return {renamed.get(key, key): value for key, value in hf_fields.items()}


@pytest.mark.parametrize("norm_topk_prob", [True, False])
@pytest.mark.parametrize("grad", [False, True], ids=["grouped-gemm", "expert-loop"])
def test_dispatch_equals_a_dense_reference_that_runs_every_expert(norm_topk_prob, grad):
    """Inference takes the grouped GEMM, training (autograd on) the loop over experts: both exact."""
    layer = tiny_moe_layer(norm_topk_prob=norm_topk_prob)
    x = torch.randn(3, 7, 64, generator=torch.Generator().manual_seed(1))
    with torch.set_grad_enabled(grad):
        got = layer(x).reshape(-1, 64)
    layer.requires_grad_(False)
    flat = x.reshape(-1, 64)
    probs = torch.softmax(layer.gate(flat), dim=-1)
    top = probs.topk(2, dim=-1)
    weights = torch.zeros_like(probs).scatter(1, top.indices, top.values)  # zero for experts not chosen
    if norm_topk_prob:
        weights = weights / weights.sum(dim=-1, keepdim=True)
    expected = torch.zeros_like(flat)
    for e in range(8):  # every expert on every token
        gate, up = (flat @ layer.experts.gate_up_proj[e].T).chunk(2, dim=-1)
        expected += weights[:, e : e + 1] * ((torch.nn.functional.silu(gate) * up) @ layer.experts.down_proj[e].T)
    assert max_diff(got, expected) < 1e-5


def test_only_the_chosen_experts_compute(monkeypatch):
    """No expert runs on a token that did not choose it, on either path.

    The expert loop (training): matmul flops equal the router plus k experts per token. The
    grouped GEMM (inference): it receives exactly the N*k assignments, and each expert's
    group holds as many rows as tokens chose it.
    """
    layer = tiny_moe_layer()
    groups = []
    grouped_mm = torch.nn.functional.grouped_mm
    monkeypatch.setattr(torch.nn.functional, "grouped_mm", lambda a, b, offs: groups.append((len(a), offs)) or grouped_mm(a, b, offs=offs))
    for tokens in (1, 5, 40):
        x = torch.randn(tokens, 64)
        with FlopCounterMode(display=False) as counter:
            layer(x)  # autograd on: the loop
        router = 2 * tokens * 64 * 8
        chosen = tokens * 2 * (2 * 64 * 64 + 2 * 32 * 64)  # k=2 experts: gate_up [64, 64] and down [64, 32]
        combine = 2 * tokens * 2 * 64  # weights [1, k] @ outputs [k, H] per token
        assert counter.get_total_flops() == router + chosen + combine and not groups

        with torch.no_grad():
            layer(x)
            chosen_counts = torch.bincount(route(layer.gate(x), 2, True)[1].flatten(), minlength=8)
        assert [rows for rows, _ in groups] == [tokens * 2, tokens * 2]  # gate_up, then down
        assert all(offs.tolist() == chosen_counts.cumsum(0).tolist() for _, offs in groups)
        groups.clear()


@torch.no_grad()
def test_route_renormalises_only_when_asked():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    weights, experts = route(logits, 2, normalize=False)
    probs = torch.softmax(logits, -1)[0]
    assert experts.tolist() == [[0, 1]] and torch.allclose(weights, probs[:2][None])
    weights, _ = route(logits, 2, normalize=True)
    assert torch.allclose(weights, (probs[:2] / probs[:2].sum())[None])


# ---------------------------------------------------------------------------- training


def test_load_balancing_loss_matches_transformers(pair):
    reference, ours = pair.reference, pair.ours
    ids = torch.randint(0, 512, (2, 9), generator=torch.Generator().manual_seed(3))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    expected = reference(ids, attention_mask=mask, output_router_logits=True).aux_loss
    with record_router_logits(ours) as logits:
        ours(ids, attention_mask=mask)
    assert len(logits) == sum(isinstance(layer.mlp, SparseMoE) for layer in ours.layers)
    loss = load_balancing_loss(logits, ours.config.num_experts_per_tok, attention_mask=mask)
    assert abs(loss.item() - expected.item()) < 1e-5
    ours(ids)  # outside the block nothing is recorded
    assert len(logits) == sum(isinstance(layer.mlp, SparseMoE) for layer in ours.layers)


def test_gradients_reach_the_router_and_only_the_chosen_experts():
    layer = tiny_moe_layer()
    x = torch.randn(3, 64)
    with record_router_logits(layer) as logits:
        out = layer(x)
    (out.square().mean() + load_balancing_loss(logits, 2)).backward()
    chosen = set(route(layer.gate(x), 2, True)[1].flatten().tolist())
    used = {e for e in range(8) if layer.experts.gate_up_proj.grad[e].abs().sum() > 0}
    assert used == chosen and len(chosen) < 8
    assert layer.gate.weight.grad.abs().sum() > 0


# ---------------------------------------------------------------------------- checkpoints and sizes


@torch.no_grad()
def test_save_pretrained_round_trips_through_transformers(pair, tmp_path):
    import transformers

    ours, directory = pair.ours, pair.directory
    model = load_model(directory)
    model.layers[1].mlp.experts.down_proj[3].mul_(-1.5)  # so the test cannot pass by re-reading the source
    saved = save_pretrained(model, None, tmp_path / "saved", max_shard_bytes=120_000)
    index = json.loads((saved / "model.safetensors.index.json").read_text())["weight_map"]
    assert "model.layers.1.mlp.experts.3.down_proj.weight" in index and len(set(index.values())) > 1
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(saved, dtype=torch.float32)
    assert type(reloaded).__name__ == "Qwen3MoeForCausalLM"
    ids = torch.randint(0, 512, (2, 10))
    logits = model.logits(model(ids))
    assert max_diff(reloaded(ids).logits, logits) < TOLERANCE
    again = load_model(saved)
    assert torch.equal(again.logits(again(ids)), logits)
    assert max_diff(logits, ours.logits(ours(ids))) > 1e-3


def test_meta_device_checks_the_files_and_allocates_nothing(pair):
    ours, directory = pair.ours, pair.directory
    meta = load_model(directory, device="meta", dtype=torch.bfloat16)
    assert all(p.device.type == "meta" and p.dtype == torch.bfloat16 for p in meta.parameters())
    assert parameter_counts(meta) == parameter_counts(ours)
    total, active = parameter_counts(ours)
    per_expert = 3 * 64 * 32
    sparse_layers = sum(isinstance(layer.mlp, SparseMoE) for layer in ours.layers)
    assert total - active == sparse_layers * (8 - 2) * per_expert


def test_missing_expert_is_named(pair, tmp_path):
    from safetensors.torch import load_file, save_file

    ours = pair.ours
    saved = save_pretrained(ours, None, tmp_path / "one-file")
    tensors = load_file(saved / "model.safetensors")
    del tensors["model.layers.1.mlp.experts.5.up_proj.weight"]
    save_file(tensors, saved / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"missing tensors: layers\.1\.mlp\.experts\.5\.up_proj\.weight"):
        load_model(saved)


def test_moe_presets_have_the_published_sizes():
    """Qwen3 technical report: 30.5B total / 3.3B active, 235B / 22B."""
    for name, (total_b, active_b) in {"30B-A3B": (30.5, 3.3), "235B-A22B": (235, 22)}.items():
        with torch.device("meta"):
            model = Qwen3Model(PRESETS[name])
        total, active = parameter_counts(model)
        assert abs(total / 1e9 - total_b) / total_b < 0.02 and abs(active / 1e9 - active_b) / active_b < 0.03, name


def test_config_from_published_json_and_round_trip():
    published = {  # Qwen3-30B-A3B-Instruct-2507's config.json, abridged
        "architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "vocab_size": 151936, "hidden_size": 2048,
        "intermediate_size": 6144, "num_hidden_layers": 48, "num_attention_heads": 32, "num_key_value_heads": 4,
        "head_dim": 128, "max_position_embeddings": 262144, "rope_theta": 10000000, "rope_scaling": None,
        "rms_norm_eps": 1e-06, "tie_word_embeddings": False, "num_experts": 128, "num_experts_per_tok": 8,
        "moe_intermediate_size": 768, "norm_topk_prob": True, "decoder_sparse_step": 1, "mlp_only_layers": [],
    }  # fmt: skip
    config = Qwen3Config.from_hf(published)
    assert config == PRESETS["30B-A3B-2507"] == Qwen3Config.from_name("Qwen/Qwen3-30B-A3B-Thinking-2507")
    for preset in PRESETS.values():
        assert Qwen3Config.from_hf(preset.to_hf()) == preset
    assert PRESETS["4B-2507"].rope_theta == 5e6 and PRESETS["4B-2507"].max_position_embeddings == 262_144
    assert "num_experts" not in PRESETS["4B"].to_hf()  # dense configs stay exactly as before
    with pytest.raises(ValueError, match="num_experts_per_tok"):
        Qwen3Config(num_experts=4, num_experts_per_tok=5, moe_intermediate_size=8)


def test_moe_and_2507_aliases():
    assert hub.resolve_repo_id("qwen3-30b-a3b") == "Qwen/Qwen3-30B-A3B"
    assert hub.resolve_repo_id("qwen3-30b-a3b-base") == "Qwen/Qwen3-30B-A3B-Base"
    assert hub.resolve_repo_id("qwen3-235b-a22b") == "Qwen/Qwen3-235B-A22B"
    assert hub.resolve_repo_id("qwen3-coder-30b-a3b-instruct") == "Qwen/Qwen3-Coder-30B-A3B-Instruct"
    assert hub.resolve_repo_id("qwen3-4b-instruct-2507") == "Qwen/Qwen3-4B-Instruct-2507"
    assert hub.resolve_repo_id("qwen3-4b-thinking-2507") == "Qwen/Qwen3-4B-Thinking-2507"
    assert hub.resolve_repo_id("qwen3-30b-a3b-instruct-2507") == "Qwen/Qwen3-30B-A3B-Instruct-2507"
    assert hub.resolve_repo_id("qwen3-30b-a3b-thinking-2507") == "Qwen/Qwen3-30B-A3B-Thinking-2507"


def test_info_shows_total_and_active_parameters(capsys):
    from reasoning.cli import main

    assert main(["info", "--model", "30B-A3B"]) == 0
    out = capsys.readouterr().out
    assert "parameters               30.532 B" in out and "active per token         3.353 B" in out
    assert main(["info", "--model", "0.6B"]) == 0
    assert "active per token" not in capsys.readouterr().out
