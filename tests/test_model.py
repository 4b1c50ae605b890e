"""Qwen3Model and KVCache against transformers' Qwen3ForCausalLM on tiny random checkpoints."""

from __future__ import annotations

import pytest
import torch

from reasoning.checkpoint import load_model
from reasoning.model.cache import KVCache, PrefixKV
from reasoning.model.config import PRESETS, Qwen3Config
from reasoning.model.qwen3 import Qwen3Model, apply_rope, attention_bias, last_positions, rope_cos_sin

TOLERANCE = 1e-4


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def full_logits(model: Qwen3Model, ids: torch.Tensor, **kwargs) -> torch.Tensor:
    """Logits at every position: the forward's hidden states through the head."""
    return model.logits(model(ids, **kwargs))


def next_logits(model: Qwen3Model, ids: torch.Tensor, **kwargs) -> torch.Tensor:
    """Logits after each row's last real token only."""
    return model.logits(last_positions(model(ids, **kwargs), kwargs.get("attention_mask")))


@pytest.fixture(params=[(True, False), (False, False), (True, True)], ids=["tied", "untied", "tied-sharded"])
def pair(request, hf_checkpoint):
    """(transformers model, our model loaded from the same HF-layout files)."""
    tied, sharded = request.param
    reference, directory = hf_checkpoint(tied=tied, sharded=sharded)
    if sharded:
        assert (directory / "model.safetensors.index.json").is_file()
    return reference, load_model(directory)


@torch.no_grad()
def test_full_forward_matches_transformers(pair):
    reference, ours = pair
    ids = torch.randint(0, 512, (3, 17), generator=torch.Generator().manual_seed(1))
    expected = reference(ids).logits
    assert expected.abs().max() > 1.0  # large random weights: a wrong model cannot hide in ~0 logits
    assert max_diff(full_logits(ours, ids), expected) < TOLERANCE


@torch.no_grad()
def test_prefill_then_cached_steps_match_full_forward(pair):
    reference, ours = pair
    ids = torch.randint(0, 512, (2, 12), generator=torch.Generator().manual_seed(2))
    expected = reference(ids).logits
    cache = KVCache.allocate(ours.config, batch_size=2, max_len=32)
    prefill = full_logits(ours, ids[:, :8], cache=cache)
    assert max_diff(prefill, expected[:, :8]) < TOLERANCE
    for t in range(8, 12):
        step = next_logits(ours, ids[:, t : t + 1], cache=cache)
        assert max_diff(step, expected[:, t]) < TOLERANCE
    assert cache.lengths.tolist() == [12, 12]


@torch.no_grad()
def test_last_positions_pick_each_rows_last_real_token(pair):
    _, ours = pair
    ids = torch.randint(0, 512, (3, 9))
    hidden = ours(ids)
    assert torch.equal(last_positions(hidden), hidden[:, -1])
    mask = torch.tensor([[1] * 9, [1] * 4 + [0] * 5, [0] * 2 + [1] * 7])  # unpadded, right- and left-padded
    assert torch.equal(last_positions(hidden, mask), hidden[[0, 1, 2], [8, 3, 8]])


@torch.no_grad()
def test_ragged_batch_in_cache_equals_each_row_alone(pair):
    """Right-padded prompts of different lengths, then decode steps: each row as if alone."""
    reference, ours = pair
    gen = torch.Generator().manual_seed(3)
    prompts = [torch.randint(0, 512, (n,), generator=gen) for n in (5, 9, 2)]
    steps = torch.randint(0, 512, (3, 3), generator=gen)
    ids = torch.zeros(3, 9, dtype=torch.long)
    mask = torch.zeros(3, 9, dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, : len(prompt)] = prompt
        mask[row, : len(prompt)] = 1
    cache = KVCache.allocate(ours.config, batch_size=3, max_len=16)
    logits = [next_logits(ours, ids, attention_mask=mask, cache=cache)]
    for t in range(3):
        logits.append(next_logits(ours, steps[:, t : t + 1], cache=cache))
    assert cache.lengths.tolist() == [8, 12, 5]
    for row, prompt in enumerate(prompts):
        full = reference(torch.cat([prompt, steps[row]])[None]).logits[0]
        expected = full[len(prompt) - 1 :]
        got = torch.stack([step[row] for step in logits])
        assert max_diff(got, expected) < TOLERANCE


@torch.no_grad()
def test_left_padded_batch_without_cache_matches_transformers(pair):
    reference, ours = pair
    ids = torch.randint(0, 512, (2, 7), generator=torch.Generator().manual_seed(4))
    mask = torch.ones_like(ids)
    mask[0, :3] = 0
    expected = reference(ids, attention_mask=mask).logits
    got = full_logits(ours, ids, attention_mask=mask)
    assert max_diff(got[mask.bool()], expected[mask.bool()]) < TOLERANCE
    assert torch.isfinite(got).all()  # padding queries must not produce NaN (they would poison a masked loss)
    alone = reference(ids[:1, 3:]).logits[0]
    assert max_diff(got[0, 3:], alone) < TOLERANCE
    assert max_diff(next_logits(ours, ids, attention_mask=mask), expected[:, -1]) < TOLERANCE


@torch.no_grad()
def test_cache_select_and_copy_rows_keep_each_rows_state(pair):
    """Retire a row, reorder the rest, and fan one prompt out to several sample rows."""
    _, ours = pair
    gen = torch.Generator().manual_seed(5)
    ids = torch.randint(0, 512, (3, 6), generator=gen)
    nxt = torch.randint(0, 512, (3, 1), generator=gen)
    cache = KVCache.allocate(ours.config, batch_size=4, max_len=16)
    ours(ids, cache=cache.rows(0, 3))
    kept = cache.select([2, 0])
    assert kept.batch_size == 2
    got = next_logits(ours, nxt[[2, 0]], cache=kept)
    expected = next_logits(ours, torch.cat([ids, nxt], 1))[[2, 0]]
    assert max_diff(got, expected) < TOLERANCE

    cache.reset()
    assert cache.lengths.tolist() == [0, 0, 0, 0]
    ours(ids[:1], cache=cache.rows(0, 1))
    cache.copy_rows([0, 0, 0], start=1)  # rows 1..3 now share row 0's prompt
    samples = next_logits(ours, nxt, cache=cache.rows(1, 4))
    expected = next_logits(ours, torch.cat([ids[:1].expand(3, -1), nxt], 1))
    assert max_diff(samples, expected) < TOLERANCE


@torch.no_grad()
def test_cache_is_written_in_place_and_bounded(pair):
    _, ours = pair
    cache = KVCache.allocate(ours.config, batch_size=1, max_len=8)
    pointer = cache.keys.data_ptr()
    ours(torch.ones(1, 6, dtype=torch.long), cache=cache)
    ours(torch.ones(1, 2, dtype=torch.long), cache=cache)
    assert cache.keys.data_ptr() == pointer and cache.lengths.item() == 8
    with pytest.raises(ValueError, match="does not fit the KV cache"):
        ours(torch.ones(1, 1, dtype=torch.long), cache=cache)


def test_cache_rejects_left_padding(pair):
    _, ours = pair
    cache = KVCache.allocate(ours.config, batch_size=1, max_len=8)
    with pytest.raises(ValueError, match="padding must be on the right"):
        ours(torch.ones(1, 3, dtype=torch.long), attention_mask=torch.tensor([[0, 1, 1]]), cache=cache)


@torch.no_grad()
def test_bf16_forward_is_bitwise_equal_to_transformers(hf_checkpoint):
    """Same numerics as the reference in bf16 (norms and RoPE in fp32, cast where it casts)."""
    import transformers

    _, directory = hf_checkpoint(tied=False)
    ours = load_model(directory, dtype=torch.bfloat16)
    reference = transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=torch.bfloat16)
    ids = torch.randint(0, 512, (2, 11), generator=torch.Generator().manual_seed(6))
    assert ours.embed_tokens.weight.dtype == torch.bfloat16
    assert torch.equal(full_logits(ours, ids), reference(ids).logits)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize("length", [1, 7])
@torch.no_grad()
def test_queries_and_keys_normed_and_rotated_together_keep_each_heads_bits(dtype, length):
    """`norm_and_rotate` takes q and k through one pass; each head must get what its own norm
    and rotation give it alone."""
    config = Qwen3Config(vocab_size=64, hidden_size=64, intermediate_size=96, num_layers=1, num_heads=4, num_kv_heads=2, head_dim=32)
    torch.manual_seed(length)
    attention = Qwen3Model(config).to(dtype).layers[0].self_attn
    attention.q_norm.weight.normal_(1, 0.5)
    attention.k_norm.weight.normal_(1, 0.5)
    q = (torch.randn(3, length, 4, 32) * 20).to(dtype)
    k = (torch.randn(3, length, 2, 32) * 20).to(dtype)
    rope = rope_cos_sin(torch.arange(5, 5 + length).expand(3, -1), 32, 1e6, dtype)
    expected = apply_rope(attention.q_norm(q).transpose(1, 2), *rope), apply_rope(attention.k_norm(k).transpose(1, 2), *rope)
    together = attention.norm_and_rotate(q, k, rope)
    with torch.enable_grad():  # training's path: one pass each
        apart = attention.norm_and_rotate(q, k, rope)
    for got in (together, apart):
        assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_attention_bias_is_the_boolean_masks_additive_form(dtype):
    """Made once per forward, it must hide and show what the boolean mask does, to the bit."""
    torch.manual_seed(0)
    mask = torch.rand(2, 1, 5, 9) < 0.6
    mask[..., 0] = True  # every query sees a key
    bias = attention_bias(mask, dtype)
    assert bias.dtype == dtype
    assert torch.equal(bias == 0, mask) and bool(torch.isneginf(bias[~mask]).all())
    q, k, v = (torch.randn(2, 4, n, 16).to(dtype) for n in (5, 9, 9))
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.equal(torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias), expected)
    assert attention_bias(None, dtype) is None


def test_presets_have_the_published_sizes():
    """Parameter counts of the dense Qwen3 family (Qwen3 technical report), meta device."""
    published_billions = {"0.6B": 0.6, "1.7B": 1.7, "4B": 4.0, "8B": 8.2, "14B": 14.8, "32B": 32.8}
    for name, billions in published_billions.items():
        with torch.device("meta"):
            model = Qwen3Model(PRESETS[name])
        count = sum(p.numel() for p in model.parameters()) / 1e9
        assert abs(count - billions) / billions < 0.07, (name, count)
    assert [PRESETS[n].tie_word_embeddings for n in published_billions] == [True, True, True, False, False, False]


def test_config_from_name_and_hf_round_trip():
    assert Qwen3Config.from_name("qwen3-4b-base") == PRESETS["4B"]
    assert Qwen3Config.from_name("Qwen/Qwen3-0.6B") == PRESETS["0.6B"]
    for preset in PRESETS.values():
        assert Qwen3Config.from_hf(preset.to_hf()) == preset
    with pytest.raises(ValueError, match="unknown Qwen3 preset"):
        Qwen3Config.from_name("7B")
    with pytest.raises(ValueError, match="num_heads"):
        Qwen3Config(num_heads=6, num_kv_heads=4)
    with pytest.raises(ValueError, match="lacks the field 'hidden_size'"):
        Qwen3Config.from_hf({k: v for k, v in PRESETS["0.6B"].to_hf().items() if k != "hidden_size"})



@torch.no_grad()
def test_head_on_some_positions_gives_their_logits(pair):
    _, ours = pair
    ids = torch.randint(0, 512, (2, 9))
    sliced = ours.logits(ours(ids)[:, 4:])
    assert sliced.shape == (2, 5, 512) and max_diff(sliced, full_logits(ours, ids)[:, 4:]) < 1e-5


def test_prefix_kv_shares_a_prompt_between_rows_exactly(pair):
    """Two prompts of different lengths run once (left-padded), their keys go to three rows, and
    the continuations see what a full forward of prompt + continuation sees, gradients included."""
    _, ours = pair
    generator = torch.Generator().manual_seed(4)
    prompts = [torch.randint(0, 512, (n,), generator=generator) for n in (5, 3)]
    rows = torch.tensor([0, 0, 1])
    tails = torch.randint(0, 512, (3, 4), generator=generator)
    padded = torch.stack([torch.cat((torch.zeros(5 - len(p), dtype=torch.long), p)) for p in prompts])
    prompt_mask = (torch.arange(5) >= torch.tensor([0, 2])[:, None]).long()
    prefix = PrefixKV.empty(len(ours.layers))
    head = next_logits(ours, padded, attention_mask=prompt_mask, cache=prefix)
    rest = full_logits(ours, tails, attention_mask=torch.cat((prompt_mask[rows], torch.ones(3, 4, dtype=torch.long)), 1), cache=prefix.extended(rows))
    (head.sum() + rest.square().mean()).backward()
    shared = {name: p.grad.clone() for name, p in ours.named_parameters()}
    ours.zero_grad()
    full = [full_logits(ours, torch.cat((prompts[g], tails[r]))[None]) for r, g in enumerate(rows.tolist())]
    for r, g in enumerate(rows.tolist()):
        n = len(prompts[g])
        assert max_diff(rest[r], full[r][0, n:]) < TOLERANCE
        assert max_diff(head[g], full[r][0, n - 1]) < TOLERANCE
    # The same loss from full forwards: each prompt's last logits once (rows 0 and 2), every continuation.
    loss = full[0][0, 4].sum() + full[2][0, 2].sum()
    loss = loss + torch.cat([f[:, len(prompts[g]) :] for f, g in zip(full, rows.tolist())]).square().mean()
    loss.backward()
    for name, p in ours.named_parameters():
        assert max_diff(shared[name], p.grad) < 1e-4 * (1 + p.grad.abs().max().item()), (name, max_diff(shared[name], p.grad))


@torch.no_grad()
def test_prefix_kv_extends_step_by_step(pair):
    """Prompt, then two tokens, then two more, each against the growing prefix: the full forward's logits."""
    _, ours = pair
    ids = torch.randint(0, 512, (2, 9), generator=torch.Generator().manual_seed(5))
    prefix = PrefixKV.empty(len(ours.layers))
    ours(ids[:, :5], cache=prefix)
    prefix = prefix.extended(torch.tensor([0, 1]))
    middle = full_logits(ours, ids[:, 5:7], cache=prefix)
    prefix = prefix.extended(torch.tensor([1, 1]))  # row 1's keys, twice
    last = full_logits(ours, ids[1:, 7:].expand(2, -1), cache=prefix)
    expected = full_logits(ours, ids)
    assert prefix.length == 7 and max_diff(middle, expected[:, 5:7]) < TOLERANCE
    assert max_diff(last, expected[1:, 7:].expand(2, -1, -1)) < TOLERANCE
