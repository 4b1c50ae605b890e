"""Logits processors and sampling on hand-made distributions: exact supports, frequencies, seeds."""

from __future__ import annotations

import math

import pytest
import torch

from reasoning.generation.sampling import (
    SamplingParams,
    apply_temperature,
    choose_tokens,
    counter_uniforms,
    min_p_filter,
    process_logits,
    request_key,
    sample_from_logits,
    token_logprobs,
    top_k_filter,
    top_p_filter,
)

# Probabilities 0.05, 0.5, 0.15, 0.3 in vocabulary order (deliberately not sorted).
PROBS = torch.tensor([[0.05, 0.5, 0.15, 0.3]])
LOGITS = PROBS.log()


def kept(logits: torch.Tensor) -> list[int]:
    return torch.isfinite(logits[0]).nonzero().flatten().tolist()


@pytest.mark.parametrize(("k", "expected"), [(1, [1]), (2, [1, 3]), (3, [1, 2, 3]), (0, [0, 1, 2, 3]), (9, [0, 1, 2, 3])])
def test_top_k_keeps_the_k_most_likely(k, expected):
    assert kept(top_k_filter(LOGITS, k)) == expected


def test_top_k_keeps_ties_with_the_kth():
    assert kept(top_k_filter(torch.tensor([[1.0, 3.0, 1.0, 0.0]]), 2)) == [0, 1, 2]


@pytest.mark.parametrize(
    ("p", "expected"),
    [(0.3, [1]), (0.5, [1]), (0.6, [1, 3]), (0.79, [1, 3]), (0.81, [1, 2, 3]), (0.9, [1, 2, 3]), (0.96, [0, 1, 2, 3]), (1.0, [0, 1, 2, 3])],
)
def test_top_p_keeps_the_smallest_set_with_mass_at_least_p(p, expected):
    assert kept(top_p_filter(LOGITS, p)) == expected


@pytest.mark.parametrize(("min_p", "expected"), [(0.0, [0, 1, 2, 3]), (0.09, [0, 1, 2, 3]), (0.2, [1, 2, 3]), (0.5, [1, 3]), (0.7, [1])])
def test_min_p_keeps_tokens_at_least_min_p_times_the_top_probability(min_p, expected):
    assert kept(min_p_filter(LOGITS, min_p)) == expected


def test_temperature_scales_logits_and_rejects_zero():
    assert torch.equal(apply_temperature(torch.tensor([[2.0, -4.0]]), 0.5), torch.tensor([[4.0, -8.0]]))
    with pytest.raises(ValueError):
        apply_temperature(LOGITS, 0.0)


def test_filters_apply_row_by_row():
    logits = torch.cat([LOGITS, LOGITS.flip(-1)])
    assert torch.isfinite(top_k_filter(logits, 1)).tolist() == [[False, True, False, False], [False, False, True, False]]
    assert torch.isfinite(top_p_filter(logits, 0.6)).sum(-1).tolist() == [2, 2]


def test_process_logits_renormalises_top_p_after_top_k():
    # After top-k=2 the distribution is 0.5/0.8, 0.3/0.8: top-p 0.6 then keeps only the first.
    processed = process_logits(LOGITS, SamplingParams(temperature=1.0, top_k=2, top_p=0.6))
    assert kept(processed) == [1]


@pytest.mark.parametrize("bad", [dict(temperature=-1.0), dict(top_k=-1), dict(top_p=0.0), dict(top_p=1.5), dict(min_p=2.0)])
def test_sampling_params_reject_bad_values(bad):
    with pytest.raises(ValueError):
        SamplingParams(**bad)


def test_inverse_cdf_sampling_matches_the_probabilities():
    draws = 40_000
    uniforms = counter_uniforms(torch.full((draws,), request_key(7)), torch.arange(draws))
    tokens = sample_from_logits(LOGITS.expand(draws, -1), uniforms)
    frequencies = torch.bincount(tokens, minlength=4).float() / draws
    # Four standard deviations of a binomial frequency at p = 0.5 is 0.01.
    assert (frequencies - PROBS[0]).abs().max() < 0.01


def test_sampling_never_draws_a_filtered_token_even_at_the_edges():
    logits = torch.tensor([[0.0, -math.inf, 0.0, -math.inf]]).expand(3, -1)
    tokens = sample_from_logits(logits, torch.tensor([0.0, 0.5, 1.0 - 2**-24]))
    assert tokens.tolist() == [0, 2, 2]


def test_top_k_sampling_support():
    draws = 2_000
    logits = torch.randn(1, 50, generator=torch.Generator().manual_seed(0)).expand(draws, -1)
    params = SamplingParams(temperature=1.0, top_k=5)
    tokens, _, _ = choose_tokens(logits, params, torch.full((draws,), 3), torch.arange(draws))
    assert set(tokens.tolist()) == set(logits[0].topk(5).indices.tolist())


def test_temperature_near_zero_equals_greedy():
    logits = torch.randn(64, 1000, generator=torch.Generator().manual_seed(0))
    keys, counters = torch.arange(64), torch.zeros(64, dtype=torch.long)
    tokens, _, _ = choose_tokens(logits, SamplingParams(temperature=1e-4), keys, counters)
    assert torch.equal(tokens, logits.argmax(-1))
    greedy, _, _ = choose_tokens(logits, SamplingParams(temperature=0.0), keys, counters)
    assert torch.equal(greedy, logits.argmax(-1))


def test_greedy_choice_has_zero_sampling_logprob():
    logits = torch.randn(3, 10)
    tokens, logprobs, sampling_logprobs = choose_tokens(logits, SamplingParams(), torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long))
    assert torch.equal(tokens, logits.argmax(-1))
    assert torch.allclose(logprobs, logits.log_softmax(-1).max(-1).values)
    assert sampling_logprobs.tolist() == [0.0, 0.0, 0.0]


def test_token_logprobs_equal_log_softmax():
    logits = torch.randn(4, 30, dtype=torch.bfloat16)
    tokens = torch.tensor([0, 5, 29, 7])
    expected = logits.float().log_softmax(-1)[torch.arange(4), tokens]
    assert torch.allclose(token_logprobs(logits, tokens), expected, atol=1e-6)


def test_counter_uniforms_are_splitmix64():
    # SplitMix64 seeded with 0 first outputs 0xE220A8397B1DCDAF (Steele et al.'s reference code).
    first = counter_uniforms(torch.tensor([0]), torch.tensor([0])).item()
    assert first == (0xE220A8397B1DCDAF >> 40) / 2**24


def test_counter_uniforms_depend_only_on_key_and_counter():
    keys = torch.tensor([request_key(1, 0, 0), request_key(1, 0, 1), request_key(2, 0, 0)])
    both = counter_uniforms(keys, torch.tensor([5, 5, 5]))
    alone = torch.stack([counter_uniforms(keys[i : i + 1], torch.tensor([5]))[0] for i in range(3)])
    assert torch.equal(both, alone)
    assert len(set(both.tolist())) == 3


def test_counter_uniforms_look_uniform():
    values = counter_uniforms(torch.full((100_000,), request_key(3)), torch.arange(100_000))
    assert values.min() >= 0 and values.max() < 1
    assert abs(values.mean().item() - 0.5) < 0.005
    assert abs((values < 0.1).float().mean().item() - 0.1) < 0.005


def test_request_keys_differ_by_seed_and_index():
    keys = {request_key(seed, prompt, sample) for seed in range(3) for prompt in range(3) for sample in range(3)}
    assert len(keys) == 27
    assert request_key(5, 1, 2) == request_key(5, 1, 2)


def float64_nucleus(logits: torch.Tensor, p: float) -> torch.Tensor:
    """The reference top-p set, all in float64: the smallest most-likely set with mass >= p (plus ties)."""
    z = logits.double()
    probs, order = z.softmax(dim=-1).sort(dim=-1, descending=True)
    count = ((probs.cumsum(dim=-1) - probs) < p).sum(dim=-1, keepdim=True)
    return z >= z.gather(-1, order.gather(-1, count - 1))


def vocabulary_logits() -> dict[str, torch.Tensor]:
    """Qwen3-sized rows: a few tokens holding ~50-97% of the mass over a long tail, and flat rows."""
    generator = torch.Generator().manual_seed(0)
    peaked = torch.randn(4, 151_936, generator=generator)
    peaked[:, :4] += torch.tensor([11.0, 12.5, 13.8, 15.0])[:, None]
    return {"peaked": peaked, "flat": torch.randn(2, 151_936, generator=generator) * torch.tensor([[0.5], [2.0]])}


@pytest.mark.parametrize("p", [0.9, 0.95, 0.999])
def test_top_p_keeps_the_float64_smallest_set_on_the_full_vocabulary(p):
    """A float32 running sum over 151,936 probabilities drifts by ~1e-4: summed so, the set lost
    thousands of tail tokens at p = 0.999 and kept less than p."""
    for name, logits in vocabulary_logits().items():
        kept_tokens = torch.isfinite(top_p_filter(logits, p))
        assert torch.equal(kept_tokens, float64_nucleus(logits, p)), name
        mass = (logits.double().softmax(dim=-1) * kept_tokens).sum(dim=-1)
        assert bool((mass >= p).all()), name


def test_top_p_keeps_every_token_tied_with_the_last_one_needed():
    logits = torch.tensor([[0.4, 0.2, 0.2, 0.2, 0.0]]).log()  # 0.4 + one 0.2 reach 0.5: all three 0.2s tie
    assert kept(top_p_filter(logits, 0.5)) == [0, 1, 2, 3]


def test_top_p_treats_negative_zero_as_a_tie_of_zero():
    assert kept(top_p_filter(torch.tensor([[0.0, -1.0, -0.0, -2.0]]), 0.3)) == [0, 2]


def nucleus_cases() -> dict[str, torch.Tensor]:
    """Rows of 5,000 logits whose nucleus is a few tokens, thousands, or ends inside a tie group."""
    generator = torch.Generator().manual_seed(1)
    peaked = torch.randn(3, 5000, generator=generator)
    peaked[:, :3] += torch.tensor([[12.0, 13.0, 14.0]])
    ties = torch.randint(-4, 4, (3, 5000), generator=generator).float()
    ties[ties == 0] = -0.0  # some zeros negative: the same logit as +0.0
    filtered = torch.randn(3, 5000, generator=generator) * 2
    return {
        "peaked": peaked,
        "flat": torch.randn(3, 5000, generator=generator) * torch.tensor([[0.05], [0.5], [3.0]]),
        "ties": ties,
        "bfloat16 ties": (torch.randn(3, 5000, generator=generator) * 4).bfloat16(),
        "top-k filtered": top_k_filter(filtered, 700),  # -inf entries: mass zero, never kept
    }


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9, 0.99, 0.9999, 0.999999])
@pytest.mark.parametrize("case", list(nucleus_cases()))
def test_top_p_equals_a_float64_sort_reference(case, p):
    """The radix select keeps exactly the set a float64 sort and running sum keep, ties included."""
    logits = nucleus_cases()[case]
    kept_tokens = torch.isfinite(top_p_filter(logits, p))
    assert torch.equal(kept_tokens, float64_nucleus(logits, p) & torch.isfinite(logits))
    filtered = top_p_filter(logits, p)
    assert filtered.dtype == logits.dtype and torch.equal(filtered[kept_tokens], logits[kept_tokens])


def test_top_p_reaches_from_a_few_tokens_to_almost_all():
    cases = nucleus_cases()
    assert torch.isfinite(top_p_filter(cases["peaked"], 0.9)).sum(-1).max() <= 3
    assert torch.isfinite(top_p_filter(cases["flat"][:2], 0.9)).sum(-1).min() > 3000  # scales 0.05, 0.5


SETTINGS = [SamplingParams(), SamplingParams(temperature=0.7, top_k=50, top_p=0.9, min_p=0.05), SamplingParams(temperature=1.0, top_p=0.95)]


@pytest.mark.parametrize("params", SETTINGS, ids=["greedy", "filtered", "top-p"])
def test_choose_tokens_traces_as_one_graph(params):
    """No host synchronisation: the engine's decode step, model and sampling, can compile whole."""
    logits = torch.randn(3, 5000, generator=torch.Generator().manual_seed(0)) * 3
    keys, counters = torch.arange(3), torch.zeros(3, dtype=torch.long)
    explanation = torch._dynamo.explain(choose_tokens)(logits, params, keys, counters)
    assert explanation.graph_break_count == 0, explanation.break_reasons
