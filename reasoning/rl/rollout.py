"""Rollouts: G completions per prompt from the batched engine, packed into training tensors.

The engine prefills each prompt once and copies it into the rows of its G samples (shared
prefill), decoding all rows together. Its random streams are keyed by (seed, prompt,
sample), so a step's rollouts depend only on the weights and the step's seed: a resumed run
draws the very same completions.

Log-probabilities for the loss are recomputed by a training forward pass
(`reasoning.logprobs.teacher_forced_logprobs`), not taken from the engine: the engine's
`sampling_logprobs` are those of the filtered (top-p) distribution and come from cached,
batched decode steps whose bf16 rounding differs from one full forward pass, so a ratio built
from them would not start at 1. The batch carries the engine's log-probs all the same, for
importance sampling against the sampler itself (`reasoning.rl.importance`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from reasoning.generation.api import GenerationConfig, GenerationResult, Tokenizer, generate
from reasoning.generation.decode import decode_with_live_weights


@dataclass(frozen=True)
class RolloutBatch:
    """N = prompts x G sequences, prompt + completion, right-padded to one length L.

    Position t of `completion_mask`, of the engine's log-probs and of `teacher_forced_logprobs`'
    output refers to the token at t + 1 (the one predicted from position t).
    """

    input_ids: torch.Tensor  # [N, L]
    attention_mask: torch.Tensor  # [N, L]
    completion_mask: torch.Tensor  # [N, L - 1] float, 1 on completion tokens
    sampling_logprobs: torch.Tensor  # [N, L - 1] as sampled by the engine (0 elsewhere)
    model_logprobs: torch.Tensor  # [N, L - 1] the engine's under the raw model: temperature 1, no top-p (0 elsewhere)
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
            self.model_logprobs[rows], self.truncated[rows], texts,
        )  # fmt: skip


def generate_rollouts(
    model: nn.Module, tokenizer: Tokenizer, prompts: Sequence[str | Sequence[int]], config: GenerationConfig
) -> list[GenerationResult]:
    """config.n sampled completions of each prompt (its group), grouped by prompt.

    A compiled decode step reads the weights as they are now (training changes them after
    every step), never a frozen copy.
    """
    decode_with_live_weights(model)
    was_training = model.training
    model.eval()
    try:
        return generate(model, tokenizer, list(prompts), config)
    finally:
        model.train(was_training)


def pack(results: Sequence[GenerationResult], pad_id: int, device: torch.device | str = "cpu") -> RolloutBatch:
    """Right-padded tensors of prompt + completion for each result, with the completion mask
    (1 on the sampled completion tokens; 0 on padding and on tokens forced by thinking control)."""
    if not results:
        raise ValueError("no rollouts to pack")
    length = max(len(r.prompt_token_ids) + len(r.token_ids) for r in results)
    rows = len(results)
    ids = torch.full((rows, length), pad_id, dtype=torch.long)
    attention = torch.zeros(rows, length, dtype=torch.long)
    completion = torch.zeros(rows, length - 1)
    sampled = torch.zeros(rows, length - 1)
    raw = torch.zeros(rows, length - 1)
    for row, result in enumerate(results):
        prompt, tokens = len(result.prompt_token_ids), len(result.token_ids)
        ids[row, : prompt + tokens] = torch.tensor(result.prompt_token_ids + result.token_ids)
        attention[row, : prompt + tokens] = 1
        completion[row, prompt - 1 : prompt - 1 + tokens] = 1
        if any(result.forced):  # appended by thinking control: not the policy's choices
            completion[row, prompt - 1 : prompt - 1 + tokens] -= torch.tensor(result.forced, dtype=completion.dtype)
        sampled[row, prompt - 1 : prompt - 1 + tokens] = torch.tensor(result.sampling_logprobs, dtype=torch.float32)
        raw[row, prompt - 1 : prompt - 1 + tokens] = torch.tensor(result.logprobs, dtype=torch.float32)
    truncated = torch.tensor([r.finish_reason == "length" for r in results])
    texts = [r.text or "" for r in results]
    tensors = (ids, attention, completion, sampled, raw, truncated)
    return RolloutBatch(*(tensor.to(device) for tensor in tensors), texts)
