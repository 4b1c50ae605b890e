"""Presence and frequency penalties (OpenAI's, as vLLM applies them): the formula against a float64
reference, its place before greedy choice and the filters, and in the engine: counts of the
generated tokens only (never the prompt's), kept through continuous batching, n samples,
preemption, budget-sweep branches and the compiled step."""

from __future__ import annotations

import pytest
import torch

from reasoning.generation import budget_sweep, generate
from reasoning.generation.decode import decode_step
from reasoning.generation.engine import Engine
from reasoning.generation.options import GenerationConfig
from reasoning.generation.request import Request
from reasoning.generation.rows import Rows
from reasoning.generation.sampling import (
    Penalties,
    SamplingParams,
    apply_penalties,
    choose_tokens,
    process_logits,
    request_key,
    token_logprobs,
)
from reasoning.model.paged import BlockPool
from tests.scripted import SURE, scripted_model
from tests.test_generation import TINY, large_random_model, random_prompts
from tests.test_generation_thinking import ANSWER, END, EOS, HMM, PROMPT_END, THINK, TOKENIZER

PROMPTS = random_prompts([3, 17, 8, 1, 12, 5])
BUDGETS = [30, 7, 40, 25, 3, 35]


@pytest.fixture(scope="module")
def model():
    return large_random_model()


def reference(logits: torch.Tensor, counts: torch.Tensor, presence: torch.Tensor, frequency: torch.Tensor) -> torch.Tensor:
    """The formula element by element in float64: logit - presence * [count > 0] - frequency * count."""
    out = logits.double().clone()
    for row in range(logits.shape[0]):
        for token in range(logits.shape[1]):
            count = int(counts[row, token])
            out[row, token] -= float(presence[row]) * (count > 0) + float(frequency[row]) * count
    return out


def test_penalties_equal_a_float64_reference_of_the_formula():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 40, generator=generator) * 4
    counts = torch.randint(0, 4, (5, 40), generator=generator, dtype=torch.int32) * (torch.rand(5, 40, generator=generator) < 0.4)
    presence, frequency = torch.tensor([1.5, 0.0, -2.0, 2.0, 0.3]), torch.tensor([0.0, 1.0, 0.5, -2.0, 0.7])
    penalized = apply_penalties(logits, counts, presence, frequency)
    assert penalized.dtype == torch.float32
    torch.testing.assert_close(penalized.double(), reference(logits, counts, presence, frequency), rtol=0, atol=1e-5)
    untouched = counts == 0
    assert torch.equal(penalized[untouched], logits[untouched])  # a token never generated keeps its logit exactly


def test_penalties_come_before_greedy_choice_and_top_k():
    """vLLM's order: penalties, then greedy or temperature and the filters; the model's log-probs stay the raw logits'."""
    logits = torch.tensor([[3.0, 2.5, 0.0, -1.0]])
    penalties = Penalties(torch.tensor([[2, 0, 0, 0]], dtype=torch.int32), torch.tensor([0.5]), torch.tensor([0.1]))  # 3.0 -> 2.3
    keys, counters = torch.zeros(1, dtype=torch.long), torch.zeros(1, dtype=torch.long)
    assert choose_tokens(logits, SamplingParams(), keys, counters)[0].item() == 0
    tokens, logprobs, sampling_logprobs = choose_tokens(logits, SamplingParams(), keys, counters, penalties)
    assert tokens.item() == 1 and logprobs.item() == pytest.approx(token_logprobs(logits, tokens).item())
    top_one = SamplingParams(temperature=1.0, top_k=1)  # top-k before the penalty would keep token 0 alone
    tokens, _, sampling_logprobs = choose_tokens(logits, top_one, keys, counters, penalties)
    assert tokens.item() == 1 and sampling_logprobs.item() == 0.0


def test_sampling_log_probs_are_those_of_the_penalized_distribution():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 300, generator=generator) * 3
    counts = torch.randint(0, 3, (4, 300), generator=generator, dtype=torch.int32)
    penalties = Penalties(counts, torch.full((4,), 1.5), torch.full((4,), 0.4))
    params = SamplingParams(temperature=0.7, top_p=0.95, top_k=20, presence_penalty=1.5, frequency_penalty=0.4)
    tokens, logprobs, sampling_logprobs = choose_tokens(logits, params, torch.arange(4), torch.zeros(4, dtype=torch.long), penalties)
    expected = token_logprobs(process_logits(reference(logits, counts, penalties.presence, penalties.frequency).float(), params), tokens)
    torch.testing.assert_close(sampling_logprobs, expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(logprobs, token_logprobs(logits, tokens))


@pytest.mark.parametrize("bad", [dict(presence_penalty=2.5), dict(frequency_penalty=-2.01), dict(presence_penalty=float("nan"))])
def test_penalties_outside_openais_range_are_refused(bad):
    with pytest.raises(ValueError, match="must be in \\[-2, 2\\]"):
        GenerationConfig(**bad)


def test_without_penalties_no_counts_are_kept():
    """Zero penalties cost nothing: no [rows, vocab] counts, and the step is given none."""
    assert Rows(4, 2, torch.device("cpu"), TINY.vocab_size, SamplingParams(temperature=1.0)).penalties(0, 4) is None
    rows = Rows(4, 2, torch.device("cpu"), TINY.vocab_size, SamplingParams(frequency_penalty=0.1))
    assert rows.penalties(0, 4).counts.shape == (4, TINY.vocab_size)


# ---------------------------------------------------------------------------- in the engine

# After any token: 7 for sure, 8 a little less likely. Greedy repeats 7 forever.
REPEATER = scripted_model({None: {7: SURE, 8: SURE - 0.6}})


@pytest.mark.parametrize(
    ("penalty", "expected"),
    [
        ({}, [7, 7, 7, 7, 7, 7]),
        (dict(presence_penalty=1.5), [7, 8, 7, 7, 7, 7]),  # once generated, 7 loses 1.5 once: 8 gets one turn
        (dict(frequency_penalty=1.0), [7, 8, 7, 8, 7, 8]),  # each use costs 1.0: 7 and 8 take turns
        (dict(presence_penalty=-1.0, frequency_penalty=0.5), [7, 7, 7, 7, 8, 8]),  # a negative presence keeps what is in use
    ],
)  # fmt: skip
def test_a_repeating_model_stops_repeating_under_a_penalty(penalty, expected):
    """The prompt's 7s do not count: the first token is 7 under every penalty."""
    [result] = generate(REPEATER, None, [[7, 7, 7]], max_new_tokens=6, **penalty)
    assert list(result.token_ids) == expected


@torch.no_grad()
def penalized_greedy_reference(model, prompt: list[int], budget: int, presence: float, frequency: float) -> list[int]:
    """One prompt, the whole sequence through the model at every step, the penalty in float64 on
    the counts of the generated tokens."""
    out: list[int] = []
    while len(out) < budget:
        logits = model.logits(model(torch.tensor([prompt + out]))[0, -1]).double()
        counts = torch.bincount(torch.tensor(out, dtype=torch.long), minlength=logits.shape[0]).double()
        out.append(int((logits - presence * (counts > 0) - frequency * counts).argmax()))
    return out


def test_penalized_greedy_decoding_equals_a_full_recomputation_through_preemption(model):
    presence, frequency = 1.5, 0.5
    groups = [[Request(prompt, budget)] for prompt, budget in zip(PROMPTS, BUDGETS, strict=True)]
    engine = Engine(model, max_batch_size=3, block_size=4, max_cache_tokens=4 * 14)
    list(engine.run(groups, SamplingParams(presence_penalty=presence, frequency_penalty=frequency)))
    assert engine.stats.preemptions > 0
    expected = [penalized_greedy_reference(model, p, b, presence, frequency) for p, b in zip(PROMPTS, BUDGETS, strict=True)]
    assert [group[0].tokens for group in groups] == expected
    unpenalized = [[Request(prompt, budget)] for prompt, budget in zip(PROMPTS, BUDGETS, strict=True)]
    list(Engine(model, max_batch_size=3, block_size=4).run(unpenalized, SamplingParams()))
    assert [group[0].tokens for group in unpenalized] != expected


PENALIZED = SamplingParams(temperature=0.9, top_k=50, top_p=0.95, presence_penalty=1.5, frequency_penalty=0.3)


def sampled_groups(n: int, prompts: int = len(PROMPTS)) -> list[list[Request]]:
    pairs = list(zip(PROMPTS, BUDGETS, strict=True))[:prompts]
    return [[Request(p, b, request_key(3, i, k)) for k in range(n)] for i, (p, b) in enumerate(pairs)]


def test_each_penalized_sample_equals_the_same_sample_decoded_alone(model):
    """n samples per prompt, continuous batching and preemption: a sequence's counts are its own."""
    together = sampled_groups(n=3, prompts=3)
    engine = Engine(model, max_batch_size=5, block_size=4, max_cache_tokens=4 * 14)
    list(engine.run(together, PENALIZED))
    assert engine.stats.preemptions > 0
    alone = [[[request] for request in group] for group in sampled_groups(n=3, prompts=3)]
    for groups in alone:
        list(Engine(model, max_batch_size=1, block_size=4).run(groups, PENALIZED))
    assert [r.tokens for g in together for r in g] == [g[0].tokens for groups in alone for g in groups]


# Thinks "hmm", closing by itself now and then; after its thinking it answers 4, unless "hmm" is
# unpenalized (a thinking without one), when it thinks on aloud: the answer depends on the counts.
SWEEPER = scripted_model({
    PROMPT_END: {THINK: SURE}, THINK: {HMM: SURE}, HMM: {HMM: SURE, END: SURE - 1.5}, END: {ANSWER: SURE, HMM: SURE - 0.3},
    ANSWER: {EOS: SURE}, None: {ANSWER: SURE, HMM: SURE - 0.3},
})  # fmt: skip


def test_the_budget_sweep_with_penalties_equals_separate_runs():
    """A branch starts with its parent's counts: its tokens are those of a run with its budget."""
    budgets = [0, 2, 5]
    options = dict(max_new_tokens=32, temperature=1.0, n=6, seed=4, eos_token_ids=[EOS], frequency_penalty=0.4, presence_penalty=0.5)
    sweep = budget_sweep(SWEEPER, TOKENIZER, [[PROMPT_END]], budgets, max_batch_size=4, max_cache_tokens=64, **options)
    for budget in budgets:
        separate = generate(SWEEPER, TOKENIZER, [[PROMPT_END]], thinking_budget=budget, **options)
        assert [s.by_budget[budget].token_ids for s in sweep] == [r.token_ids for r in separate], budget
    unpenalized = budget_sweep(SWEEPER, TOKENIZER, [[PROMPT_END]], budgets, **{**options, "frequency_penalty": 0, "presence_penalty": 0})
    assert [s.by_budget[5].token_ids for s in sweep] != [s.by_budget[5].token_ids for s in unpenalized]


def test_the_decode_step_with_penalties_is_one_graph(model):
    pool = BlockPool.allocate(TINY, num_blocks=8, block_size=4)
    tables, rows = torch.tensor([[1, 2], [3, 4], [5, 0]]), torch.arange(3)
    tokens, lengths = torch.tensor([5, 6, 7]), torch.tensor([5, 7, 2])
    penalties = Penalties(torch.ones(3, TINY.vocab_size, dtype=torch.int32), torch.full((3,), 1.5), torch.zeros(3))
    explanation = torch._dynamo.explain(decode_step)(model, pool, tokens, lengths, tables, rows * 11, rows, rows - 1, PENALIZED, penalties)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1


@pytest.mark.slow
def test_the_compiled_step_with_penalties_equals_eager_for_any_penalty(model):
    """One compiled graph serves every penalty value (they are tensors), with rows coming and
    going, n samples and preemption, and gives the eager step's tokens."""

    def run(params: SamplingParams, compile: bool) -> list[list[int]]:
        groups = sampled_groups(n=2)
        list(Engine(model, max_batch_size=4, block_size=4, max_cache_tokens=4 * 20, compile=compile).run(groups, params))
        return [r.tokens for g in groups for r in g]

    other = SamplingParams(temperature=0.9, top_k=50, top_p=0.95, presence_penalty=-0.5, frequency_penalty=1.2)
    compiled = run(PENALIZED, compile=True)
    with torch.compiler.set_stance("fail_on_recompile"):
        assert run(other, compile=True) == run(other, compile=False)
    assert compiled == run(PENALIZED, compile=False)
