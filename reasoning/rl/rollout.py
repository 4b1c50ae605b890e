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

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from reasoning.generation.api import GenerationConfig, GenerationResult, Tokenizer, generate_with_config
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
    model: nn.Module, batch: RolloutBatch, temperature: float, *, with_entropy: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log p(token) [N, L - 1] under log-softmax(logits / temperature), and optionally the entropy.

    The temperature is the one rollouts were sampled at, so for mu = 1 the ratio is exactly 1
    and the policy gradient is that of the distribution actually sampled (top-p aside).
    Float32 from the logits on; no [N, L, vocab] log-softmax is kept, only a logsumexp. Prompt
    positions hold 0 (the completion mask excludes them).
    """
    mask = batch.attention_mask
    # Only positions from the first completion token on are needed: the LM head (forward and
    # backward) and the float32 work run over the completions alone (a 100-token prompt is
    # most of a row).
    start = int(batch.completion_mask.argmax(dim=1).min())
    logits = model(batch.input_ids, attention_mask=None if bool(mask.all()) else mask, logits_from=start)[:, :-1]
    logits = logits.float() / temperature
    targets = batch.input_ids[:, start + 1 :]
    picked = logits.gather(-1, targets[..., None]).squeeze(-1) - logits.logsumexp(dim=-1)
    logprobs = torch.cat((picked.new_zeros(picked.shape[0], start), picked), dim=1)
    entropy = None
    if with_entropy:
        with torch.no_grad():
            entropy = torch.cat((picked.new_zeros(picked.shape[0], start), token_entropy(logits.detach())), dim=1)
    return logprobs, entropy
