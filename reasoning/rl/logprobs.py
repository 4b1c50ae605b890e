"""Token log-probs through the LM head in chunks, so no [tokens, vocab] tensor outlives a chunk.

GRPO needs log p(token) for every completion token. Through autograd, the float32 logits of a
micro-batch are kept for the backward pass: 8 completions of 4,096 tokens over Qwen3's
151,936-token vocabulary are 20 GB. Here the forward pass keeps only the hidden states and
each token's logsumexp; the backward pass recomputes one chunk of logits at a time (one more
LM-head matmul) and turns it into gradients at once. The arithmetic is the autograd
computation's: float32 from the logits on, gradients cast back to the weights' dtype before
the matmuls, the head's gradient summed over chunks in float32.
"""

from __future__ import annotations

import torch

from reasoning.rl.losses import token_entropy

CHUNK_TOKENS = 1024  # [1024, 151936] float32 logits: 0.6 GB per chunk


class _ChunkedLogprobs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, targets, temperature, chunk, with_entropy):
        logprobs = hidden.new_empty(targets.shape, dtype=torch.float32)
        logsumexp = torch.empty_like(logprobs)
        entropy = torch.empty_like(logprobs) if with_entropy else logprobs.new_empty(0)
        for start in range(0, targets.shape[0], chunk):
            part = slice(start, start + chunk)
            logits = _logits(hidden[part], weight, temperature)
            logsumexp[part] = logits.logsumexp(dim=-1)
            logprobs[part] = logits.gather(-1, targets[part, None]).squeeze(-1) - logsumexp[part]
            if with_entropy:
                entropy[part] = token_entropy(logits, logsumexp[part])
        ctx.save_for_backward(hidden, weight, targets, logsumexp)
        ctx.temperature, ctx.chunk = temperature, chunk
        ctx.mark_non_differentiable(entropy)
        return logprobs, entropy

    @staticmethod
    def backward(ctx, grad_logprobs, _grad_entropy):
        hidden, weight, targets, logsumexp = ctx.saved_tensors
        chunks = range(0, targets.shape[0], ctx.chunk)
        grad_hidden = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        # The head's gradient, summed over chunks: in float32 unless there is one chunk.
        grad_weight = None
        for start in chunks:
            part = slice(start, start + ctx.chunk)
            logits = _logits(hidden[part], weight, ctx.temperature)
            # d log p(target) / d logits = onehot(target) - softmax, times 1 / temperature.
            grad = (logits - logsumexp[part, None]).exp_().neg_()
            grad.scatter_add_(1, targets[part, None], torch.ones_like(grad[:, :1]))
            grad = (grad * (grad_logprobs[part, None] / ctx.temperature)).to(weight.dtype)
            if grad_hidden is not None:
                grad_hidden[part] = grad @ weight
            if ctx.needs_input_grad[1]:
                chunk_grad = grad.t() @ hidden[part]
                if len(chunks) == 1:
                    grad_weight = chunk_grad
                elif grad_weight is None:
                    grad_weight = chunk_grad.float()
                else:
                    grad_weight += chunk_grad
        if grad_weight is not None:
            grad_weight = grad_weight.to(weight.dtype)
        return grad_hidden, grad_weight, None, None, None, None


def _logits(hidden: torch.Tensor, weight: torch.Tensor, temperature: float) -> torch.Tensor:
    logits = (hidden @ weight.t()).float()
    return logits if temperature == 1.0 else logits.div_(temperature)


def chunked_logprobs(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0, *,
    with_entropy: bool = False, chunk: int = CHUNK_TOKENS,
) -> tuple[torch.Tensor, torch.Tensor | None]:  # fmt: skip
    """log softmax(hidden @ weight.T / temperature)[target] per token, and optionally the entropy.

    hidden [..., H] (the final norm's output), weight [V, H] (the LM head), targets [...];
    returns float32 [...] tensors. Gradients flow to hidden and weight, not to the entropy.
    """
    shape = targets.shape
    logprobs, entropy = _ChunkedLogprobs.apply(
        hidden.reshape(-1, hidden.shape[-1]), weight, targets.reshape(-1), temperature, chunk, with_entropy
    )
    return logprobs.view(shape), entropy.view(shape) if with_entropy else None
