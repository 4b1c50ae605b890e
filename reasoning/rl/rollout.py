"""Rollouts: G completions per prompt from the batched engine, packed into training tensors.

The engine prefills each prompt once and copies it into the rows of its G samples (shared
prefill), decoding all rows together. Its random streams are keyed by (seed, prompt,
sample), so a step's rollouts depend only on the weights and the step's seed: a resumed run
draws the very same completions.

Log-probabilities for the loss are recomputed by a training forward pass
(`policy_logprobs`), not taken from the engine: the engine's `sampling_logprobs` are those
of the filtered (top-p) distribution and come from cached, batched decode steps whose bf16
rounding differs from one full forward pass, so a ratio built from them would not start at 1.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from reasoning.generation.api import GenerationConfig, GenerationResult, Tokenizer, generate_with_config
from reasoning.model.cache import PrefixKV
from reasoning.rl.logprobs import chunked_logprobs
from reasoning.rl.losses import token_entropy


@dataclass(frozen=True)
class RolloutBatch:
    """N = prompts x G sequences, prompt + completion, right-padded to one length L.

    Position t of `completion_mask`, `sampling_logprobs` and of `policy_logprobs`' output
    refers to the token at t + 1 (the one predicted from position t).
    """

    input_ids: torch.Tensor  # [N, L]
    attention_mask: torch.Tensor  # [N, L]
    completion_mask: torch.Tensor  # [N, L - 1] float, 1 on completion tokens
    sampling_logprobs: torch.Tensor  # [N, L - 1] as sampled by the engine (0 elsewhere)
    truncated: torch.Tensor  # [N] bool, ended by the token budget
    texts: list[str]

    @property
    def size(self) -> int:
        return self.input_ids.shape[0]

    @property
    def completion_lengths(self) -> torch.Tensor:
        return self.completion_mask.sum(dim=1)

    def loss_mask(self, drop_truncated: bool = False) -> torch.Tensor:
        """[N, L - 1] mask of the tokens the loss sees: completions, minus truncated ones if asked (DAPO)."""
        return self.completion_mask * (~self.truncated)[:, None] if drop_truncated else self.completion_mask

    def select(self, rows: torch.Tensor | slice) -> RolloutBatch:
        """The sub-batch of `rows` (a micro-batch, or the groups dynamic sampling keeps)."""
        texts = self.texts[rows] if isinstance(rows, slice) else [self.texts[i] for i in rows.tolist()]
        return RolloutBatch(
            self.input_ids[rows], self.attention_mask[rows], self.completion_mask[rows], self.sampling_logprobs[rows],
            self.truncated[rows], texts,
        )  # fmt: skip


def generate_rollouts(
    model: nn.Module, tokenizer: Tokenizer, prompts: Sequence[str | Sequence[int]], *, group_size: int, max_new_tokens: int,
    temperature: float, top_p: float = 1.0, seed: int, max_batch_size: int = 64,
) -> list[GenerationResult]:  # fmt: skip
    """group_size sampled completions of each prompt, grouped by prompt (eager decoding).

    Decoding is eager: the compiled engine freezes the weights it first saw, and training
    changes them after every step.
    """
    config = GenerationConfig(
        max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, n=group_size, seed=seed,
        max_batch_size=max_batch_size, compile=False,
    )  # fmt: skip
    was_training = model.training
    model.eval()
    try:
        return generate_with_config(model, tokenizer, list(prompts), config)
    finally:
        model.train(was_training)


def pack(results: Sequence[GenerationResult], pad_id: int, device: torch.device | str = "cpu") -> RolloutBatch:
    """Right-padded tensors of prompt + completion for each result, with the completion mask."""
    if not results:
        raise ValueError("no rollouts to pack")
    length = max(len(r.prompt_token_ids) + len(r.token_ids) for r in results)
    rows = len(results)
    ids = torch.full((rows, length), pad_id, dtype=torch.long)
    attention = torch.zeros(rows, length, dtype=torch.long)
    completion = torch.zeros(rows, length - 1)
    sampled = torch.zeros(rows, length - 1)
    for row, result in enumerate(results):
        prompt, tokens = len(result.prompt_token_ids), len(result.token_ids)
        ids[row, : prompt + tokens] = torch.tensor(result.prompt_token_ids + result.token_ids)
        attention[row, : prompt + tokens] = 1
        completion[row, prompt - 1 : prompt - 1 + tokens] = 1
        sampled[row, prompt - 1 : prompt - 1 + tokens] = torch.tensor(result.sampling_logprobs, dtype=torch.float32)
    truncated = torch.tensor([r.finish_reason == "length" for r in results])
    texts = [r.text or "" for r in results]
    return RolloutBatch(ids.to(device), attention.to(device), completion.to(device), sampled.to(device), truncated.to(device), texts)


def policy_logprobs(
    model: nn.Module, batch: RolloutBatch, temperature: float, *, with_entropy: bool = False, share_prompts: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log p(token) [N, L - 1] under log-softmax(logits / temperature), and optionally the entropy.

    The temperature is the one rollouts were sampled at, so for mu = 1 the ratio is exactly 1
    and the policy gradient is that of the distribution actually sampled (top-p aside).
    share_prompts: consecutive rows with the same prompt (a group) share it: the prompt runs
    once per group and the completions run against its keys and values (`PrefixKV`), so the
    prompt's share of the forward and backward pass is paid once, not G times; and the LM
    head runs in chunks (`chunked_logprobs`), so no [tokens, vocab] tensor is kept. Off, one
    forward pass runs over every row in full and autograd keeps the completions' logits:
    FSDP needs that, as its hooks expect each block's output on the gradient path (a
    prompt's blocks are reached through their keys) and shard the head's weight.
    Either way the LM head and the float32 work run over completions only, and prompt and
    padding positions hold 0.
    """
    if share_prompts:
        hidden, targets, place = _shared_prompt_hidden(model, batch)
        logprobs, entropy = chunked_logprobs(hidden, model.head_weight, targets, temperature, with_entropy=with_entropy)
    else:
        logits, targets, place = _one_pass_logits(model, batch)
        logits = logits.float() if temperature == 1.0 else logits.float() / temperature
        logsumexp = logits.logsumexp(dim=-1)
        logprobs = logits.gather(-1, targets[..., None]).squeeze(-1) - logsumexp
        with torch.no_grad():
            entropy = token_entropy(logits.detach(), logsumexp.detach()) if with_entropy else None
    return place(logprobs), None if entropy is None else place(entropy)


Placer = Callable[[torch.Tensor], torch.Tensor]  # [N, C] per-token values -> the [N, L - 1] layout


def _one_pass_logits(model: nn.Module, batch: RolloutBatch) -> tuple[torch.Tensor, torch.Tensor, Placer]:
    """Logits from the first completion position of any row on, their targets, and their placement."""
    start = int(batch.completion_mask.argmax(dim=1).min())
    mask = batch.attention_mask
    logits = model(batch.input_ids, attention_mask=None if bool(mask.all()) else mask, logits_from=start)[:, :-1]
    place = lambda values: torch.cat((values.new_zeros(values.shape[0], start), values), dim=1) * batch.completion_mask
    return logits, batch.input_ids[:, start + 1 :], place


def _shared_prompt_hidden(model: nn.Module, batch: RolloutBatch) -> tuple[torch.Tensor, torch.Tensor, Placer]:
    """Final hidden states before every completion token, each group's prompt run once; targets, placement."""
    inputs = _SharedPrompts.of(batch)
    rows, context_mask = inputs.group_of_row, inputs.context_mask
    # Keys and values of each prompt but its last token, once per group.
    prefix = PrefixKV.empty(len(model.layers))
    model(inputs.context_ids, attention_mask=None if bool(context_mask.all()) else context_mask, cache=prefix, return_hidden=True)
    # Then each row from its prompt's last token on: the states that predict its completion tokens.
    known = torch.cat((context_mask.index_select(0, rows), inputs.step_mask), dim=1)
    hidden = model(inputs.step_ids, attention_mask=known, cache=prefix.extended(rows), return_hidden=True)
    return hidden, inputs.targets, functools.partial(inputs.place, width=batch.completion_mask.shape[1])


class _SharedPrompts(NamedTuple):
    """A RolloutBatch as its groups' shared prompts (but the last token) and its rows' steps.

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
    def of(cls, batch: RolloutBatch) -> _SharedPrompts:
        ids, lengths = batch.input_ids.tolist(), batch.attention_mask.sum(dim=1).tolist()
        prompts, completions, group_of_row = [], [], []
        for row, (length, size) in enumerate(zip(lengths, batch.completion_lengths.long().tolist())):
            prompt = ids[row][: length - size]
            if not prompt:
                raise ValueError(f"rollout {row} has no prompt token to predict its completion from")
            if not prompts or prompt != prompts[-1]:
                prompts.append(prompt)
            group_of_row.append(len(prompts) - 1)
            completions.append(ids[row][length - size : length])
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
