"""Teacher-forced log-probabilities: log p(token) of given tokens under the model.

One module for every caller that scores tokens it already has: GRPO's policy and reference
log-probs (`teacher_forced_logprobs` on a batch of prompt + completion rows, with gradients)
and best-of-n's confidence scorer (`completion_logprobs` of one completion, no gradients).

The LM head runs in chunks over the completion tokens only (`chunked_logprobs`), so no
[tokens, vocab] tensor outlives a chunk: through autograd, 8 completions of 4,096 tokens over
Qwen3's 151,936-token vocabulary would keep 20 GB of float32 logits. The backward pass
recomputes one chunk of logits at a time.

When consecutive rows share a prompt (a GRPO group), the prompt runs once and their
completions against its keys and values (`PrefixKV`), so its share of the forward and
backward pass is paid once per group, not G times. Rows that share nothing (supervised
examples), and every batch under FSDP, run in one plain causal pass: FSDP's hooks expect each
block's output on the gradient path, and a shared prompt's blocks are reached only through
their keys and values. The head's weight is read between the root's forward and backward,
where FSDP2 keeps the root's parameters gathered.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

import torch
from torch import nn

from reasoning.model.cache import PrefixKV

CHUNK_TOKENS = 256  # [256, 151936] float32 logits: 0.16 GB per chunk, a small share of a training step's peak
# Logits per entropy chunk: on CPU ~4 MB float32 temporaries stay in cache, which makes the
# passes below ~3x faster than one pass over 1,024 rows; on an accelerator a chunk is a few
# kernel launches, so chunks are larger (256 MB temporaries).
ENTROPY_CHUNK_VALUES = {"cpu": 1 << 20, "other": 1 << 26}


class TokenBatch(Protocol):
    """N rows of prompt + completion, right-padded to one length L (`rl.rollout.RolloutBatch` is one).

    Position t of `completion_mask`, and of the log-probs computed from it, refers to the
    token at t + 1 (the one predicted from position t).
    """

    @property
    def input_ids(self) -> torch.Tensor: ...  # [N, L]

    @property
    def attention_mask(self) -> torch.Tensor: ...  # [N, L]

    @property
    def completion_mask(self) -> torch.Tensor: ...  # [N, L - 1] float, 1 on completion tokens


def teacher_forced_logprobs(
    model: nn.Module, batch: TokenBatch, temperature: float = 1.0, *, with_entropy: bool = False, share_prompts: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log p(token) [N, L - 1] under log-softmax(logits / temperature), and optionally the entropy.

    share_prompts: run each group's prompt once (if any is shared); off, one pass over every
    row (what FSDP needs; see the module's docstring). Either way the LM head runs in chunks
    over completions only, and prompt and padding positions hold 0.
    """
    inputs = _SharedPrompts.of(batch) if share_prompts else None
    if inputs is not None and len(inputs.context_ids) < batch.input_ids.shape[0]:
        hidden, targets, place = _shared_prompt_hidden(model, batch, inputs)
    else:
        hidden, targets, place = _completion_hidden(model, batch)
    logprobs, entropy = chunked_logprobs(hidden, model.head_weight, targets, temperature, with_entropy=with_entropy)
    return place(logprobs), None if entropy is None else place(entropy)


@torch.inference_mode()
def completion_logprobs(model: nn.Module, prompt_ids: Sequence[int], token_ids: Sequence[int]) -> tuple[float, ...]:
    """log p(token_ids[k] | prompt, token_ids[:k]) for each k, in float32 (teacher forcing, no gradients)."""
    if not prompt_ids:
        raise ValueError("completion_logprobs needs a non-empty prompt")
    if not token_ids:
        return ()
    device = next(model.parameters()).device
    ids = torch.tensor([list(prompt_ids) + list(token_ids)], device=device)
    completion = torch.zeros(1, ids.shape[1] - 1, device=device)
    completion[0, len(prompt_ids) - 1 :] = 1
    logprobs, _ = teacher_forced_logprobs(model, TokenRows(ids, torch.ones_like(ids), completion))
    return tuple(logprobs[0, len(prompt_ids) - 1 :].tolist())


class TokenRows(NamedTuple):
    """A plain TokenBatch (what supervised fine-tuning and the scorers build)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    completion_mask: torch.Tensor


Placer = Callable[[torch.Tensor], torch.Tensor]  # [N, C] per-token values -> the [N, L - 1] layout


def _completion_hidden(model: nn.Module, batch: TokenBatch) -> tuple[torch.Tensor, torch.Tensor, Placer]:
    """Final hidden states before every completion token [K, H] from one pass over the rows; targets, placement."""
    hidden = model(batch.input_ids, attention_mask=batch.attention_mask)[:, :-1]
    mask = batch.completion_mask.bool()
    place = lambda values: values.new_zeros(mask.shape).masked_scatter(mask, values)
    return hidden[mask], batch.input_ids[:, 1:][mask], place


def _shared_prompt_hidden(model: nn.Module, batch: TokenBatch, inputs: _SharedPrompts) -> tuple[torch.Tensor, torch.Tensor, Placer]:
    """Final hidden states before every completion token, each group's prompt run once; targets, placement."""
    rows, context_mask = inputs.group_of_row, inputs.context_mask
    # Keys and values of each prompt but its last token, once per group.
    prefix = PrefixKV.empty(len(model.layers))
    model(inputs.context_ids, attention_mask=context_mask, cache=prefix)
    # Then each row from its prompt's last token on: the states that predict its completion tokens.
    known = torch.cat((context_mask.index_select(0, rows), inputs.step_mask), dim=1)
    hidden = model(inputs.step_ids, attention_mask=known, cache=prefix.extended(rows))
    width = batch.completion_mask.shape[1]
    return hidden, inputs.targets, lambda values: inputs.place(values, width) * batch.completion_mask  # 0 where forced


class _SharedPrompts(NamedTuple):
    """A TokenBatch as its groups' shared prompts (but the last token) and its rows' steps.

    A row's steps are its prompt's last token and its completion but the last token: step t
    predicts completion token t. Rows are padded to at least one step and contexts to at least
    one column (padding that attends nowhere else), so the same two forward passes run for any
    batch.
    """

    context_ids: torch.Tensor  # [groups, P] left-padded, so every prompt continues at column P
    context_mask: torch.Tensor  # [groups, P]
    group_of_row: torch.Tensor  # [N]
    step_ids: torch.Tensor  # [N, C] right-padded
    step_mask: torch.Tensor  # [N, C]
    targets: torch.Tensor  # [N, C] the completion tokens
    columns: torch.Tensor  # [N, C] each completion token's column in the [N, L - 1] layout

    @classmethod
    def of(cls, batch: TokenBatch) -> _SharedPrompts:
        ids, lengths = batch.input_ids.tolist(), batch.attention_mask.sum(dim=1).tolist()
        # A completion starts at its row's first masked-in token: later tokens may be left out
        # (forced by thinking control), so the mask's sum would not find the prompt's end.
        first, has_completion = batch.completion_mask.argmax(dim=1).tolist(), batch.completion_mask.any(dim=1).tolist()
        prompts, completions, group_of_row = [], [], []
        for row, length in enumerate(lengths):
            end = first[row] + 1 if has_completion[row] else length
            prompt = ids[row][:end]
            if not prompt:
                raise ValueError(f"row {row} has no prompt token to predict its completion from")
            if not prompts or prompt != prompts[-1]:
                prompts.append(prompt)
            group_of_row.append(len(prompts) - 1)
            completions.append(ids[row][end:length])
        width, context = max(1, *map(len, completions)), max(1, *(len(p) - 1 for p in prompts))
        tensor = functools.partial(torch.tensor, device=batch.input_ids.device)
        steps = [prompts[g][-1:] + c[:-1] for g, c in zip(group_of_row, completions)]
        step_mask = tensor([[1] * len(c) + [0] * (width - len(c)) for c in completions])
        # Row r's token t sits at column (prompt length - 1 + t); padding goes past the layout's end.
        offsets = tensor(range(width))
        starts = tensor([[len(prompts[g]) - 1] for g in group_of_row])
        return cls(
            context_ids=tensor([[0] * (context + 1 - len(p)) + p[:-1] for p in prompts]),
            context_mask=tensor([[0] * (context + 1 - len(p)) + [1] * (len(p) - 1) for p in prompts]),
            group_of_row=tensor(group_of_row),
            step_ids=tensor([s + [0] * (width - len(s)) for s in steps]),
            step_mask=step_mask,
            targets=tensor([c + [0] * (width - len(c)) for c in completions]),
            columns=torch.where(step_mask.bool(), starts + offsets, batch.completion_mask.shape[1] + offsets),
        )

    def place(self, values: torch.Tensor, width: int) -> torch.Tensor:
        """[N, C] per-completion-token values into the [N, width] layout, 0 elsewhere."""
        return values.new_zeros(values.shape[0], width + values.shape[1]).scatter(1, self.columns, values)[:, :width]


class _ChunkedLogprobs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, targets, temperature, chunk, with_entropy):
        logprobs = hidden.new_empty(targets.shape, dtype=torch.float32)
        logsumexp = torch.empty_like(logprobs)
        entropy = torch.empty_like(logprobs) if with_entropy else logprobs.new_empty(0)
        for part in _chunks(targets.shape[0], chunk):
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
        chunks = _chunks(targets.shape[0], ctx.chunk)
        grad_hidden = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        # The head's gradient, summed over chunks: in float32 unless there is one chunk.
        grad_weight = None
        for part in chunks:
            logits = _logits(hidden[part], weight, ctx.temperature)
            # d log p(target) / d logits = onehot(target) - softmax, times 1 / temperature.
            grad = (logits - logsumexp[part, None]).exp_().neg_()
            grad.scatter_add_(1, targets[part, None], torch.ones_like(grad[:, :1]))
            grad = grad.mul_(grad_logprobs[part, None] / ctx.temperature).to(weight.dtype)
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
        if ctx.needs_input_grad[1]:  # zeros when there is no token: every FSDP rank reduces the same gradients
            grad_weight = torch.zeros_like(weight) if grad_weight is None else grad_weight.to(weight.dtype)
        return grad_hidden, grad_weight, None, None, None, None


def _chunks(rows: int, chunk: int) -> list[slice]:
    """`rows` in the fewest chunks of at most `chunk` rows, of near-equal sizes.

    No chunk is left with a few rows: on CPU, a product of a few rows with the head (the hidden
    states' gradient, a sum over 151,936 tokens) can run a kernel that sums ~10x less accurately
    in float32 than one of many rows (measured: 1 to 11 rows but 4 and 8). With 263 tokens, a
    last chunk of 7 rows left the hidden gradient 5.7x as far from float64 as plain autograd's;
    balanced chunks hold at least half of `chunk` rows when there are more than `chunk`.
    """
    count = -(-rows // chunk)
    size = -(-rows // count) if count else 0
    return [slice(start, start + size) for start in range(0, rows, size or 1)]


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


@torch.no_grad()
def token_entropy(logits: torch.Tensor, logsumexp: torch.Tensor | None = None) -> torch.Tensor:
    """Entropy [...] of softmax(logits) over the last dimension, in float32 (a metric: no gradient).

    H = -sum_i p_i log p_i, each term >= 0, added by a plain sum reduction: nothing cancels
    (logsumexp - sum_i p_i z_i does, on peaked rows) and nothing accumulates in one float32
    register (a batched matrix product did on CPU: ~1e-3 off over Qwen3's 151,936 tokens,
    ~1e-2 on peaked rows; this is within ~1e-5 of float64). Rows go in chunks, so the
    temporaries stay small. Pass the logsumexp if it is at hand (the log-prob computation has it).
    """
    vocab = logits.shape[-1]
    rows = logits.reshape(-1, vocab)
    known = None if logsumexp is None else logsumexp.reshape(-1)
    entropy = torch.empty(rows.shape[0], dtype=torch.float32, device=logits.device)
    step = max(1, ENTROPY_CHUNK_VALUES.get(logits.device.type, ENTROPY_CHUNK_VALUES["other"]) // vocab)
    for start in range(0, rows.shape[0], step):
        part = rows[start : start + step].float()
        lse = part.logsumexp(dim=-1) if known is None else known[start : start + step].float()
        logp = part - lse[:, None]
        probs = logp.exp()
        # A -inf logit would make 0 * -inf: its log p is floored (its p is 0 either way).
        entropy[start : start + step] = probs.mul_(logp.clamp_(min=torch.finfo(torch.float32).min)).sum(dim=-1).neg_()
    return entropy.view(logits.shape[:-1])
