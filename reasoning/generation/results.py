"""What generation hands back: `Prompt` (a prompt with its own budget and random stream),
`GenerationResult` (one completion) and `SweepResult` (one sample of a thinking-budget sweep).

Apart from `api`, so that the engine's `api` and the endpoint client (`remote`) both build them
without importing each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Prompt:
    """A prompt (text or token ids) with its own token budget, overriding `max_new_tokens`.

    `stream` keys its samples' random streams instead of its position in the list, so a prompt
    draws the same samples wherever it sits: an evaluation resumed on the problems left, or
    split over ranks, samples each problem as an uninterrupted run does.
    """

    content: str | Sequence[int]
    max_new_tokens: int | None = None
    stream: int | None = None


@dataclass(frozen=True)
class GenerationResult:
    """One completion: its tokens, text, why it ended, and each token's log-probability.

    token_ids include the end-of-sequence token when finish_reason is "eos" (text does not),
    and the token that completed a stop string when it is "stop" (text ends before the stop
    string). logprobs are under the model's own distribution (log-softmax of the raw logits,
    float32); sampling_logprobs under the distribution actually sampled from (after
    temperature, top-k, top-p, min-p; 0.0 for every greedy token). `forced` marks the tokens
    that thinking control appended rather than sampled (their log-probs are 0.0 and are not
    the policy's); with thinking control, thinking_tokens and answer_tokens count the sampled
    tokens inside <think> and outside it (after </think>; the whole reply when it never thinks,
    as with thinking off). Without thinking control both are None.

    From an OpenAI-compatible endpoint (`remote`), token_ids and the log-probs are empty (the
    API returns text), completion_tokens holds the count the server's `usage` gave, and a
    request that failed after its retries is a sample with finish_reason "error" and its
    message in `error`.
    """

    prompt_index: int
    sample_index: int
    prompt_token_ids: tuple[int, ...]
    token_ids: tuple[int, ...]
    text: str | None
    finish_reason: str  # "eos", "stop", "length", "cancelled"; from an endpoint also "error"
    logprobs: tuple[float, ...]
    sampling_logprobs: tuple[float, ...]
    forced: tuple[bool, ...] = ()
    thinking_tokens: int | None = None
    answer_tokens: int | None = None
    completion_tokens: int | None = None  # None: len(token_ids)
    error: str | None = None

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids) if self.completion_tokens is None else self.completion_tokens

    @property
    def forced_tokens(self) -> int:
        return sum(self.forced)


@dataclass(frozen=True)
class SweepResult:
    """One sample of a thinking-budget sweep: its completion at each budget, and the tokens
    the sweep decoded for it (shared thinking once, then each budget's close and answer)."""

    prompt_index: int
    sample_index: int
    by_budget: dict[int, GenerationResult]
    decoded_tokens: int
