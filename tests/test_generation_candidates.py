"""Sampling with a top-k draws among the k most likely tokens alone (a few hundred candidates, not
the vocabulary), from exactly the distribution `process_logits` defines over the vocabulary."""

from __future__ import annotations

import pytest
import torch

from reasoning.generation.sampling import SamplingParams, choose_tokens, process_logits, token_logprobs

VOCAB = 3000
DRAWS = 4000


def bf16_logits(rows: int, seed: int) -> torch.Tensor:
    """Logits as a bf16 model gives them: 8-bit mantissas, so many tokens tie."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(rows, VOCAB, generator=generator) * 3).bfloat16().float()


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(temperature=0.6, top_k=20, top_p=0.95),  # Qwen3's thinking protocol
        SamplingParams(temperature=0.7, top_k=20, top_p=0.8, min_p=0.05),
        SamplingParams(temperature=1.3, top_k=200),
        SamplingParams(temperature=1.0, top_k=1),
        SamplingParams(temperature=0.9, top_k=50, top_p=0.3),
    ],
)
def test_candidates_give_the_vocabulary_wide_distribution(params):
    logits = bf16_logits(1, seed=params.top_k).expand(DRAWS, -1)
    tokens, logprobs, sampling_logprobs = choose_tokens(logits, params, torch.full((DRAWS,), 5), torch.arange(DRAWS))
    reference = process_logits(logits[:1], params).log_softmax(-1)[0]
    support = set(torch.isfinite(reference).nonzero().flatten().tolist())
    assert set(tokens.tolist()) <= support
    torch.testing.assert_close(sampling_logprobs, reference[tokens], rtol=0, atol=1e-5)
    torch.testing.assert_close(logprobs, token_logprobs(logits, tokens))
    probabilities = reference.exp()
    frequencies = torch.bincount(tokens, minlength=VOCAB).float() / DRAWS
    assert (frequencies - probabilities).abs().max() < 0.03  # about five standard deviations at p = 0.5
    if len(support) <= 20:
        assert set(tokens.tolist()) == support


def test_tokens_tied_with_the_kth_are_candidates_too():
    logits = torch.full((DRAWS, VOCAB), -20.0)
    logits[:, :8] = torch.tensor([5.0, 4.0, 3.0, 3.0, 3.0, 3.0, 3.0, 1.0])
    tokens, _, _ = choose_tokens(logits, SamplingParams(temperature=5.0, top_k=3), torch.full((DRAWS,), 1), torch.arange(DRAWS))
    assert set(tokens.tolist()) == {0, 1, 2, 3, 4, 5, 6}  # the five tied at the third value all stay, 1.0 does not
