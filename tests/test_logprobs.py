"""Chunked LM-head log-probs equal the plain autograd computation, values and gradients."""

from __future__ import annotations

import pytest
import torch

from reasoning.logprobs import chunked_logprobs, token_entropy


@pytest.mark.parametrize("chunk", [7, 1000], ids=["several-chunks", "one-chunk"])
@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_chunked_logprobs_equal_autograd(chunk, temperature):
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(3, 11, 16, generator=generator).requires_grad_()
    weight = (torch.randn(50, 16, generator=generator) * 0.5).requires_grad_()
    targets = torch.randint(0, 50, (3, 11), generator=generator)
    upstream = torch.randn(3, 11, generator=generator)

    logprobs, entropy = chunked_logprobs(hidden, weight, targets, temperature, with_entropy=True, chunk=chunk)
    (logprobs * upstream).sum().backward()
    got = hidden.grad.clone(), weight.grad.clone()
    hidden.grad = weight.grad = None

    logits = (hidden @ weight.t()) / temperature
    expected = logits.log_softmax(dim=-1).gather(-1, targets[..., None]).squeeze(-1)
    (expected * upstream).sum().backward()
    assert torch.allclose(logprobs, expected, atol=1e-5)
    assert torch.allclose(entropy, token_entropy(logits.detach()), atol=1e-5) and not entropy.requires_grad
    assert torch.allclose(got[0], hidden.grad, atol=1e-5) and torch.allclose(got[1], weight.grad, atol=1e-5)
    assert chunked_logprobs(hidden, weight, targets, temperature)[1] is None


def test_chunked_logprobs_keep_the_weights_dtype():
    hidden = torch.randn(5, 8, dtype=torch.bfloat16, requires_grad=True)
    weight = torch.randn(20, 8, dtype=torch.bfloat16, requires_grad=True)
    logprobs, _ = chunked_logprobs(hidden, weight, torch.randint(0, 20, (5,)), chunk=2)
    logprobs.sum().backward()
    assert logprobs.dtype == torch.float32 and hidden.grad.dtype == weight.grad.dtype == torch.bfloat16
    assert bool((logprobs <= 0).all())


def test_no_tokens_give_the_head_a_zero_gradient_not_none():
    """Under FSDP every rank must reduce the same gradients, one with an empty micro-batch too."""
    hidden = torch.randn(0, 8, requires_grad=True)
    weight = torch.randn(20, 8, requires_grad=True)
    logprobs, _ = chunked_logprobs(hidden, weight, torch.zeros(0, dtype=torch.long))
    logprobs.sum().backward()
    assert weight.grad is not None and torch.equal(weight.grad, torch.zeros_like(weight))


def vocabulary_logits() -> torch.Tensor:
    """Rows over Qwen3's 151,936 tokens: flat ones, and peaked ones (a few tokens +10 to +30) over a long tail."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 151_936, generator=generator) * 2
    logits[3:, :3] += torch.tensor([10.0, 20.0, 30.0])[:, None]
    return logits


def float64_entropy(logits: torch.Tensor) -> torch.Tensor:
    logp = logits.double().log_softmax(dim=-1)
    return -(logp.exp() * logp).sum(dim=-1)


def test_entropy_matches_float64_on_the_full_vocabulary():
    """Summed by a batched matrix product (float32 on CPU), the entropy was up to ~1e-3 off on these rows."""
    logits = vocabulary_logits()
    expected = float64_entropy(logits)
    assert (token_entropy(logits).double() - expected).abs().max() < 1e-4
    assert (token_entropy(logits, logits.logsumexp(dim=-1)).double() - expected).abs().max() < 1e-4
    # chunked_logprobs: hidden = identity rows and weight = logits.T give exactly these logits.
    hidden, weight, targets = torch.eye(6), logits.t().contiguous(), torch.tensor([0, 1, 2, 3, 4, 5])
    logprobs, entropy = chunked_logprobs(hidden, weight, targets, with_entropy=True, chunk=4)
    assert (entropy.double() - expected).abs().max() < 1e-4
    assert (logprobs.double() - logits.double().log_softmax(dim=-1)[range(6), targets]).abs().max() < 1e-5


def test_chunked_gradients_are_as_accurate_as_plain_float32_on_the_full_vocabulary():
    """263 tokens: one over a chunk of 256 left a last chunk of 7 rows, whose product with the head
    (the hidden states' gradient, a sum over 151,936 tokens) ran a CPU kernel ~10x less accurate
    in float32: the hidden gradient was 5.7x as far from float64 as plain autograd's."""
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(263, 16, generator=generator)
    weight = torch.randn(151_936, 16, generator=generator) * 0.3
    targets = torch.randint(0, 151_936, (263,), generator=generator)
    upstream = torch.randn(263, generator=generator)

    def gradients(logprobs_of, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = hidden.to(dtype).clone().requires_grad_(), weight.to(dtype).clone().requires_grad_()
        (logprobs_of(h, w) * upstream.to(dtype)).sum().backward()
        return h.grad.double(), w.grad.double()

    def plain(h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return (h @ w.t()).log_softmax(dim=-1).gather(-1, targets[:, None]).squeeze(-1)

    exact = gradients(plain, torch.float64)
    plain_error = [(got - want).abs().max() for got, want in zip(gradients(plain, torch.float32), exact, strict=True)]
    chunked = gradients(lambda h, w: chunked_logprobs(h, w, targets)[0], torch.float32)
    chunked_error = [(got - want).abs().max() for got, want in zip(chunked, exact, strict=True)]
    for name, mine, theirs in zip(("hidden", "head weight"), chunked_error, plain_error, strict=True):
        assert mine <= 2 * theirs, f"{name} gradient: chunked {mine:.2e} off float64, plain float32 {theirs:.2e}"
