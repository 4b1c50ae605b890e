"""The engine on a tiny random Qwen3: batching, scheduling, sharing and log-probs against plain loops."""

from __future__ import annotations

import pytest
import torch

from reasoning.generation import Prompt, generate
from reasoning.generation.engine import Engine
from reasoning.generation.request import Request
from reasoning.generation.sampling import SamplingParams, process_logits
from reasoning.model.config import Qwen3Config
from reasoning.model.qwen3 import Qwen3Model

TINY = Qwen3Config(
    vocab_size=512, hidden_size=64, intermediate_size=96, num_layers=2, num_heads=4, num_kv_heads=2, head_dim=32,
    max_position_embeddings=256,
)  # fmt: skip


def large_random_model() -> Qwen3Model:
    """TINY with large random weights, so logits are O(1) and greedy choices are far from ties."""
    torch.manual_seed(0)
    model = Qwen3Model(TINY).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(1 + 0.5 * torch.randn_like(param)) if name.endswith("norm.weight") else param.normal_(0, 0.3)
    return model


@pytest.fixture(scope="module")
def model() -> Qwen3Model:
    return large_random_model()


def random_prompts(lengths: list[int], seed: int = 1) -> list[list[int]]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, TINY.vocab_size, (length,), generator=generator).tolist() for length in lengths]


@torch.no_grad()
def greedy_without_cache(model: Qwen3Model, prompt: list[int], budget: int, eos: set[int] = frozenset()) -> list[int]:
    """The reference: one prompt at a time, the whole sequence through the model at every step."""
    out: list[int] = []
    while len(out) < budget:
        token = int(model.logits(model(torch.tensor([prompt + out]))[0, -1]).argmax())
        out.append(token)
        if token in eos:
            break
    return out


LENGTHS = [3, 17, 8, 1, 12, 5, 9]


def test_ragged_batch_with_early_eos_equals_sequential_greedy(model):
    prompts = random_prompts(LENGTHS)
    plain = [greedy_without_cache(model, p, 20) for p in prompts]
    # An EOS id that some rows emit early and others never: rows finish at different steps.
    eos = plain[0][3]
    assert any(eos not in row for row in plain)
    expected = [greedy_without_cache(model, p, 20, {eos}) for p in prompts]
    results = generate(model, None, prompts, max_new_tokens=20, eos_token_ids=[eos], max_batch_size=len(prompts))
    assert [list(r.token_ids) for r in results] == expected
    assert [r.finish_reason for r in results] == ["eos" if eos in row else "length" for row in expected]
    assert [r.num_tokens for r in results] == [len(row) for row in expected]


@pytest.mark.parametrize("sampling", [dict(), dict(temperature=1.0, top_k=50, seed=3)], ids=["greedy", "sampled"])
def test_continuous_batching_equals_static_batching(model, sampling):
    prompts = [Prompt(p, budget) for p, budget in zip(random_prompts(LENGTHS), [4, 25, 1, 9, 30, 2, 14])]
    static = generate(model, None, prompts, max_new_tokens=0, max_batch_size=len(prompts), **sampling)
    continuous = generate(model, None, prompts, max_new_tokens=0, max_batch_size=2, **sampling)
    assert [r.token_ids for r in continuous] == [r.token_ids for r in static]
    assert [r.num_tokens for r in static] == [4, 25, 1, 9, 30, 2, 14]
    for a, b in zip(continuous, static):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-4)


def test_finished_rows_cost_no_compute(model):
    """Decode steps run on live rows only: the batch shrinks as requests finish."""
    batch_sizes = []
    hook = model.register_forward_pre_hook(lambda _, args: batch_sizes.append(tuple(args[0].shape)))
    try:
        generate(model, None, [Prompt(p, b) for p, b in zip(random_prompts([4, 4, 4]), [2, 5, 9])], max_new_tokens=0)
    finally:
        hook.remove()
    decode_batches = [batch for batch, length in batch_sizes if length == 1]
    assert decode_batches == [3] * 1 + [2] * 3 + [1] * 4


def test_waiting_requests_take_freed_slots(model):
    prompts = random_prompts([5] * 6)
    engine = Engine(model, max_batch_size=2)
    groups = [[Request(p, budget)] for p, budget in zip(prompts, [3, 8, 2, 2, 6, 4])]
    live_per_step = [len(stepped) for stepped in engine.run(groups, SamplingParams())]
    assert max(live_per_step) == 2
    assert [len(g[0].tokens) for g in groups] == [3, 8, 2, 2, 6, 4]


def test_n_samples_prefill_their_prompt_once(model):
    calls = []
    hook = model.register_forward_pre_hook(lambda _, args: calls.append(tuple(args[0].shape)))
    try:
        results = generate(model, None, random_prompts([11]), max_new_tokens=6, n=5, temperature=1.0, seed=0)
    finally:
        hook.remove()
    assert [shape for shape in calls if shape[1] > 1] == [(1, 11)]
    assert all(shape == (5, 1) for shape in calls if shape[1] == 1)
    assert [r.sample_index for r in results] == [0, 1, 2, 3, 4]
    assert len({r.token_ids for r in results}) > 1


def test_samples_do_not_depend_on_batch_composition(model):
    prompts = random_prompts([6, 13, 4])
    options = dict(max_new_tokens=10, temperature=1.0, top_p=0.9, seed=11)
    together = generate(model, None, prompts, n=3, max_batch_size=9, **options)
    one_by_one = generate(model, None, prompts, n=3, max_batch_size=1, **options)
    assert [r.token_ids for r in together] == [r.token_ids for r in one_by_one]


def test_same_seed_reproduces_and_different_seeds_differ(model):
    prompts = random_prompts([7, 7])
    run = lambda seed: [r.token_ids for r in generate(model, None, prompts, max_new_tokens=12, temperature=1.0, seed=seed)]
    assert run(5) == run(5)
    assert run(5) != run(6)


def test_greedy_ignores_the_seed(model):
    prompts = random_prompts([7])
    run = lambda seed: generate(model, None, prompts, max_new_tokens=8, seed=seed)[0].token_ids
    assert run(1) == run(2)


@pytest.mark.parametrize(
    "sampling",
    [dict(), dict(temperature=0.7, top_k=20, top_p=0.9, min_p=0.05, seed=4), dict(temperature=1.0, seed=4)],
    ids=["greedy", "filtered", "plain"],
)
def test_logprobs_equal_a_full_forward_recomputation(model, sampling):
    prompts = random_prompts([5, 14, 2])
    results = generate(model, None, prompts, max_new_tokens=10, max_batch_size=2, **sampling)
    params = SamplingParams(**{k: v for k, v in sampling.items() if k != "seed"})
    for prompt, result in zip(prompts, results):
        with torch.no_grad():
            logits = model.logits(model(torch.tensor([prompt + list(result.token_ids)]))[0, len(prompt) - 1 : -1])
        tokens = torch.tensor(result.token_ids)
        expected = logits.log_softmax(-1)[torch.arange(len(tokens)), tokens]
        assert torch.allclose(torch.tensor(result.logprobs), expected, atol=1e-4)
        if params.greedy:
            assert result.sampling_logprobs == (0.0,) * result.num_tokens
        else:
            sampled = process_logits(logits, params).log_softmax(-1)[torch.arange(len(tokens)), tokens]
            assert torch.allclose(torch.tensor(result.sampling_logprobs), sampled, atol=1e-4)
            assert torch.isfinite(sampled).all()


def test_per_request_budgets_and_default(model):
    prompts = random_prompts([4, 4, 4])
    results = generate(model, None, [Prompt(prompts[0], 3), prompts[1], Prompt(prompts[2], 0)], max_new_tokens=7)
    assert [r.num_tokens for r in results] == [3, 7, 0]
    assert [r.finish_reason for r in results] == ["length"] * 3


def test_context_limit_stops_generation(model):
    results = generate(model, None, random_prompts([10, 3]), max_new_tokens=50, max_context=16)
    assert [r.num_tokens for r in results] == [6, 13]
    assert [r.finish_reason for r in results] == ["length", "length"]
    with pytest.raises(ValueError, match="context limit"):
        generate(model, None, random_prompts([16]), max_new_tokens=5, max_context=16)


def test_model_context_limit_is_the_default(model):
    prompt = random_prompts([TINY.max_position_embeddings - 4])
    assert generate(model, None, prompt, max_new_tokens=10)[0].num_tokens == 4


def test_cache_token_budget_bounds_the_batch(model):
    engine = Engine(model, max_batch_size=8, max_cache_tokens=3 * 20)
    groups = [[Request(p, 10)] for p in random_prompts([10] * 5)]
    assert max(len(stepped) for stepped in engine.run(groups, SamplingParams())) == 3
    with pytest.raises(ValueError, match="max_cache_tokens"):
        list(Engine(model, max_cache_tokens=15).run([[Request(random_prompts([10])[0], 10)]], SamplingParams()))


def test_bfloat16_batched_greedy_equals_one_at_a_time_up_to_a_near_tie(model):
    """The same holds in bf16 on the engine's own path (cache, batching), up to rounding: exact
    equality cannot be promised, since a batch rounds its sums otherwise than one row alone and
    bf16 logits (steps of 1/16 near 10) tie or nearly tie at some steps of these very prompts.
    So each row must match until its first differing token, and there the two choices must be a
    near-tie in the one-row run's own logits."""
    low = Qwen3Model(TINY).eval()
    low.load_state_dict(model.state_dict())
    low = low.to(torch.bfloat16)
    prompts = random_prompts([6, 2, 9])
    batched = generate(low, None, prompts, max_new_tokens=8, max_batch_size=3)
    single = [generate(low, None, [p], max_new_tokens=8)[0] for p in prompts]
    assert all(r.num_tokens == 8 for r in batched)
    for prompt, b, s in zip(prompts, batched, single):
        k = next((k for k, (x, y) in enumerate(zip(b.token_ids, s.token_ids)) if x != y), 8)
        assert b.logprobs[:k] == pytest.approx(s.logprobs[:k], abs=0.1)  # about 0.04 apart at most here
        if k < 8:
            with torch.no_grad():
                logits = low.logits(low(torch.tensor([prompt + list(s.token_ids[:k])]))[0, -1]).float()
            assert logits[s.token_ids[k]] - logits[b.token_ids[k]] <= 0.25, (k, b.token_ids, s.token_ids)


def test_rejects_empty_prompts_and_text_without_tokenizer(model):
    with pytest.raises(ValueError, match="at least one token"):
        generate(model, None, [[]], max_new_tokens=3)
    with pytest.raises(ValueError, match="tokenizer"):
        generate(model, None, ["hello"], max_new_tokens=3)


@pytest.mark.slow
def test_compiled_decode_equals_eager_with_one_graph_for_all_batches(model):
    prompts = [Prompt(p, b) for p, b in zip(random_prompts(LENGTHS), [4, 25, 1, 9, 30, 2, 14])]
    eager = generate(model, None, prompts, max_new_tokens=0, max_batch_size=3)
    generate(model, None, prompts[:2], max_new_tokens=0, max_batch_size=3, compile=True)
    generate(model, None, prompts[:1], max_new_tokens=0, compile=True)  # one-row engines have their own graph
    # Batches of 3, 2 and 1 live rows and other cache shapes now run without compiling again.
    with torch.compiler.set_stance("fail_on_recompile"):
        compiled = generate(model, None, prompts, max_new_tokens=0, max_batch_size=3, compile=True)
        single = generate(model, None, prompts[-1:], max_new_tokens=0, compile=True)
    assert [r.token_ids for r in compiled] == [r.token_ids for r in eager]
    assert single[0].token_ids == eager[-1].token_ids


@pytest.mark.slow
def test_compiled_decode_follows_weights_changed_in_place(model):
    """A frozen graph must not serve changed weights: after a training-like update the engine
    decodes with the new weights (a second graph reads them as inputs), as eager decoding does.
    The module's model, so the frozen graph the test above compiled is the one that must step
    aside (a model of its own costs one more compile); its weights are put back afterwards, and
    from then on its compiled decoding reads live weights (no later test here compiles)."""
    engine = Engine(model, compile=True)
    prompts = random_prompts([5, 9])

    def run(engine: Engine) -> list[list[int]]:
        groups = [[Request(p, 6)] for p in prompts]
        list(engine.run(groups, SamplingParams()))
        return [group[0].tokens for group in groups]

    before = run(engine)
    saved = {name: value.clone() for name, value in model.state_dict().items()}
    try:
        with torch.no_grad():
            for param in model.parameters():
                param.normal_(0, 0.3)
        after = run(engine)
        assert after == run(Engine(model)) != before
    finally:
        model.load_state_dict(saved)


def test_as_completed_yields_each_prompt_once_when_all_its_samples_finish(model):
    from reasoning.generation import GenerationConfig, generate_as_completed

    prompts = [Prompt(p, b) for p, b in zip(random_prompts([4, 9, 6]), [12, 2, 0])]
    config = GenerationConfig(max_new_tokens=0, n=2, temperature=1.0, seed=0, max_batch_size=4)
    order = [[(r.prompt_index, r.sample_index) for r in group] for group in generate_as_completed(model, None, prompts, config)]
    assert sorted(order) == [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(2, 0), (2, 1)]]
    assert order[0] == [(1, 0), (1, 1)]  # the short prompt finishes first
