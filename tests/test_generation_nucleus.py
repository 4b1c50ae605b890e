"""Top-p over the whole vocabulary (R1's protocol: no top-k): the nucleus found without a sort, in
one histogram pass for the 16-bit logits of a bf16 or float16 model and two for float32, and the
draw among it, from exactly the distribution `process_logits` defines."""

from __future__ import annotations

import pytest
import torch

from reasoning.generation.nucleus import masses, nucleus_edge
from reasoning.generation.sampling import (
    Penalties,
    SamplingParams,
    apply_penalties,
    choose_tokens,
    process_logits,
    row_sampling,
    token_logprobs,
)

VOCAB = 3000
DRAWS = 1500  # each row's histogram has 2^16 bins: draws cost more than the vocabulary here


def float64_nucleus(z: torch.Tensor, p: float) -> torch.Tensor:
    """The reference set, all in float64: a descending sort and a running sum (plus ties)."""
    z = z.double()
    probs, order = z.softmax(dim=-1).sort(dim=-1, descending=True)
    count = ((probs.cumsum(dim=-1) - probs) < p).sum(dim=-1, keepdim=True)
    return (z >= z.gather(-1, order.gather(-1, count - 1))) & torch.isfinite(z)


def sixteen_bit_rows(dtype: torch.dtype) -> torch.Tensor:
    """Rows of a 16-bit model's logits: flat, peaked, many ties, signed zeros, and -inf."""
    generator = torch.Generator().manual_seed(3)
    rows = torch.randn(5, VOCAB, generator=generator) * torch.tensor([[0.3], [2.0], [4.0], [1.0], [1.0]])
    rows[1, :3] += torch.tensor([9.0, 10.0, 11.0])
    rows[3] = torch.randint(-3, 3, (VOCAB,), generator=generator).float()
    rows[3][rows[3] == 0] = -0.0
    rows[4, 100:2000] = -float("inf")
    return rows.to(dtype)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("temperature", [0.6, 1.0, 1.7])
@pytest.mark.parametrize("p", [0.05, 0.5, 0.95, 0.9999])
def test_one_pass_over_sixteen_bit_logits_finds_the_sorted_nucleus(dtype, temperature, p):
    raw = sixteen_bit_rows(dtype)
    z = raw.float() / temperature
    mass = masses(z)
    one_pass = z >= nucleus_edge(z, mass, p, raw).float() / temperature
    assert torch.equal(one_pass, float64_nucleus(z, p))
    assert torch.equal(one_pass, z >= nucleus_edge(z, mass, p))  # the two-pass float32 select agrees


def reference_draws(logits: torch.Tensor, params: SamplingParams, penalties: Penalties | None = None) -> None:
    """DRAWS draws from one row: the support, the log-probs and the frequencies of `process_logits`."""
    rows = logits.expand(DRAWS, -1)
    penalized = logits.float() if penalties is None else apply_penalties(logits.float(), *penalties)
    penalties = penalties and Penalties(*(t.expand(DRAWS, *t.shape[1:]) for t in penalties))
    tokens, logprobs, sampling_logprobs = choose_tokens(rows, params, torch.full((DRAWS,), 9), torch.arange(DRAWS), penalties)
    reference = process_logits(penalized, params).log_softmax(-1)[0]
    support = set(torch.isfinite(reference).nonzero().flatten().tolist())
    assert set(tokens.tolist()) <= support
    torch.testing.assert_close(sampling_logprobs, reference[tokens], rtol=0, atol=1e-5)
    torch.testing.assert_close(logprobs, token_logprobs(rows, tokens))
    frequencies = torch.bincount(tokens, minlength=VOCAB).float() / DRAWS
    assert (frequencies - reference.exp()).abs().max() < 0.06  # over four standard deviations at p = 0.5
    if len(support) <= 20:
        assert set(tokens.tolist()) == support


@pytest.mark.parametrize(
    ("params", "dtype"),
    [
        (SamplingParams(0.6, 0, 0.95), torch.bfloat16),
        (SamplingParams(0.6, 0, 0.95), torch.float32),
        (SamplingParams(1.0, 0, 0.3), torch.bfloat16),
        (SamplingParams(0.8, 0, 0.9, 0.1), torch.bfloat16),
        (SamplingParams(0.6, VOCAB - 10, 0.95), torch.bfloat16),
    ],
    ids=["r1", "r1 float32", "small nucleus", "with min-p", "with a vocabulary-wide top-k"],
)
def test_top_p_draws_from_the_distribution_process_logits_defines(params, dtype):
    logits = (torch.randn(1, VOCAB, generator=torch.Generator().manual_seed(1)) * 3).to(dtype)
    logits[0, :5] += 6
    reference_draws(logits, params)


def test_top_p_with_penalties_draws_from_the_penalised_distribution():
    """Penalties move 16-bit logits off their grid: the two-pass select on float32 keys serves."""
    logits = (torch.randn(1, VOCAB, generator=torch.Generator().manual_seed(2)) * 3).bfloat16()
    logits[0, :5] += 6
    counts = torch.zeros(1, VOCAB, dtype=torch.int32)
    counts[0, :3] = 1  # the three most likely tokens were generated: a presence penalty lowers them
    reference_draws(logits, SamplingParams(0.6, 0, 0.95), Penalties(counts, torch.tensor([1.3]), torch.zeros(1)))


def test_rows_with_their_own_top_p_choose_what_each_would_alone_from_bf16_logits():
    """The per-row sampler (a server's batch) takes the one-pass path too, bit for bit."""
    params = [
        SamplingParams(0.6, 0, 0.95), SamplingParams(1.0), SamplingParams(0.7, 20, 0.8), SamplingParams(),
        SamplingParams(1.2, 0, 0.5, 0.05), SamplingParams(0.9, 0, 1.0, 0.2),
    ]  # fmt: skip
    generator = torch.Generator().manual_seed(4)
    logits = (torch.randn(len(params), VOCAB, generator=generator) * 3).bfloat16()
    keys, counters = torch.randint(0, 2**62, (len(params),), generator=generator), torch.arange(len(params))
    for draw in range(20):
        mixed = choose_tokens(logits, row_sampling(params, torch.device("cpu"), VOCAB), keys, counters + draw)
        for row, p in enumerate(params):
            alone = choose_tokens(logits[row : row + 1], p, keys[row : row + 1], counters[row : row + 1] + draw)
            for got, expected in zip(mixed, alone):
                assert torch.equal(got[row : row + 1].float(), expected.float()), (row, p)


def test_top_p_over_bf16_logits_traces_as_one_graph():
    logits = (torch.randn(3, VOCAB, generator=torch.Generator().manual_seed(0)) * 3).bfloat16()
    explanation = torch._dynamo.explain(choose_tokens)(
        logits, SamplingParams(0.6, 0, 0.95), torch.arange(3), torch.zeros(3, dtype=torch.long)
    )
    assert explanation.graph_break_count == 0, explanation.break_reasons
