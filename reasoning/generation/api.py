"""`generate` and `stream`: text or token ids in, completions with log-probs out.

Every caller of the engine (evaluation, self-consistency, best-of-N, refinement, GRPO
rollouts) goes through these two functions; they turn prompts into requests with their token
budgets and random streams, run the engine, and package what it produced.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from torch import nn

from reasoning.generation.detokenize import IncrementalText, truncate_at_stop
from reasoning.generation.endpoint import Endpoint
from reasoning.generation.engine import Engine
from reasoning.generation.options import GenerationConfig
from reasoning.generation.request import FINISH_EOS, FINISH_STOP, Request
from reasoning.generation.results import GenerationResult, Prompt, SweepResult
from reasoning.generation.sampling import request_key
from reasoning.generation.thinking import DEFAULT_WAIT, ThinkingControl, ThinkingTracker, tokens_needed


class Tokenizer(Protocol):
    """What generation needs of a tokenizer (`reasoning.tokenizer.Qwen3Tokenizer` has it)."""

    eos_token_ids: tuple[int, ...]

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str: ...


def generate(
    model: nn.Module | Endpoint,
    tokenizer: Tokenizer | None,
    prompts: str | Sequence[str | Sequence[int] | Prompt],
    config: GenerationConfig | None = None,
    **options: Any,
) -> list[GenerationResult]:
    """Complete every prompt n times; results are ordered by prompt, then sample.

    Options come as a `GenerationConfig`, as its field names (`max_new_tokens=64,
    temperature=0.6`), or both (the names replace the config's fields). Prompts are strings
    (encoded with `tokenizer`), token-id lists, or `Prompt`s with their own budget. Greedy
    when temperature is 0. A seed makes sampling reproducible: each sample draws from its own
    random stream, keyed by (seed, prompt index or `Prompt.stream`, sample index), so its
    tokens do not depend on batch size or on the other prompts. Generation stops at an EOS
    token, a stop string, the token budget or the context limit, whichever comes first.
    """
    config = (config or GenerationConfig()).with_options(**options)  # model: also an `Endpoint` (remote)
    finished = sorted(generate_as_completed(model, tokenizer, prompts, config), key=lambda group: group[0].prompt_index)
    return [result for group in finished for result in group]


def generate_as_completed(
    model: nn.Module | Endpoint,
    tokenizer: Tokenizer | None,
    prompts: str | Sequence[str | Sequence[int] | Prompt],
    config: GenerationConfig,
    *,
    stop_early: Callable[[int, list[GenerationResult]], bool] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> Iterator[list[GenerationResult]]:
    """Yield each prompt's n results as soon as all of them have finished, in finishing order.

    Under continuous batching prompts finish out of order; a caller that records or grades
    each one at once (the evaluation runner) loses nothing if the run is interrupted.

    `stop_early(prompt_index, finished)` is asked each time one of a prompt's samples
    finishes while others still run, with the results finished so far; when it returns True
    the others are cancelled (finish_reason "cancelled", their tokens so far kept) and the
    prompt's n results are yielded at once. Self-consistency uses it to stop sampling once
    the vote is decided. `on_step(tokens)` hears after each engine step how many tokens it
    decoded (a progress bar that moves while long samples run). `model` may be an `Endpoint`:
    the prompts go to that server (`remote`).
    """
    if isinstance(model, Endpoint):
        from reasoning.generation import remote

        yield from remote.generate_as_completed(model, tokenizer, prompts, config, stop_early=stop_early, on_step=on_step)
        return
    groups = _requests(model, tokenizer, prompts, config)
    owner = {id(request): index for index, group in enumerate(groups) for request in group}
    unfinished = [len(group) for group in groups]

    def results(index: int) -> list[GenerationResult]:
        unfinished[index] = -1  # yielded
        return [_result(tokenizer, config, index, sample, request) for sample, request in enumerate(groups[index])]

    for stepped in _engine(model, config).run(groups, config.sampling, _eos_ids(tokenizer, config)):
        if on_step is not None:
            on_step(len(stepped))
        for request in stepped:
            index = owner[id(request)]
            if request.finish_reason is None or unfinished[index] < 0:
                continue
            unfinished[index] -= 1
            if unfinished[index] and stop_early is not None:
                done = [_result(tokenizer, config, index, k, r) for k, r in enumerate(groups[index]) if r.finish_reason]
                if stop_early(index, done):
                    for sibling in groups[index]:
                        sibling.cancel()
                    unfinished[index] = 0
            if unfinished[index] == 0:
                yield results(index)
    for index, count in enumerate(unfinished):  # requests with no budget finish without a step
        if count >= 0:
            yield results(index)


def budget_sweep(
    model: nn.Module | Endpoint,
    tokenizer: Tokenizer,
    prompts: str | Sequence[str | Sequence[int] | Prompt],
    budgets: Sequence[int],
    config: GenerationConfig | None = None,
    **options: Any,
) -> list[SweepResult]:
    """Each prompt's n samples at every thinking budget, from one decode of the thinking.

    A sample thinks once under the largest budget; when its thinking reaches a smaller budget
    B, a branch copies it there (reading its cached keys and values by reference), closes the
    thinking as a run with thinking_budget=B would, and answers. A sample whose thinking ended
    by itself before B has its natural answer at B. Every completion equals, token for token,
    what `generate(..., thinking_budget=B)` with the same seed gives: each sample draws from
    its own stream, so the shared prefix is the same draw for draw. Ordered by prompt, then sample.
    """
    budgets = sorted(set(budgets))
    if not budgets or budgets[0] < 0:
        raise ValueError(f"budgets must be a non-empty list of thinking budgets >= 0, got {list(budgets)}")
    config = (config or GenerationConfig()).with_options(**options, thinking_budget=budgets[-1])
    if config.min_thinking > budgets[0]:
        raise ValueError(f"min_thinking ({config.min_thinking}) exceeds the smallest budget ({budgets[0]})")
    if isinstance(model, Endpoint):  # a server that takes thinking_budget: each budget decoded on its own
        from reasoning.generation import remote

        return remote.budget_sweep(model, tokenizer, prompts, budgets, config)
    groups = _requests(model, tokenizer, prompts, config)
    for request in (r for group in groups for r in group):
        request.branch_at = frozenset(budgets[:-1])
    for _ in _engine(model, config).run(groups, config.sampling, _eos_ids(tokenizer, config)):
        pass
    sweeps = []
    for index, group in enumerate(groups):
        for sample, request in enumerate(group):
            by_budget = {budget: request.branches.get(budget, request) for budget in budgets}
            decoded = len(request.tokens) + sum(len(b.tokens) - b.inherited for b in request.branches.values())
            results = {budget: _result(tokenizer, config, index, sample, r) for budget, r in by_budget.items()}
            sweeps.append(SweepResult(index, sample, results, decoded))
    return sweeps


class TextStream:
    """Iterate for the text of one completion, piece by piece; `result` holds all of it afterwards."""

    def __init__(self, model: nn.Module, tokenizer: Tokenizer, request: Request, config: GenerationConfig) -> None:
        self.model, self.tokenizer, self.request, self.config = model, tokenizer, request, config
        self.result: GenerationResult | None = None

    def __iter__(self) -> Iterator[str]:
        request, config, sent = self.request, self.config, 0
        for _ in _engine(self.model, config).run([[request]], config.sampling, _eos_ids(self.tokenizer, config)):
            text = request.text.final_text() if request.finish_reason else request.text.stable_text()
            if len(text) > sent:
                yield text[sent:]
                sent = len(text)
        self.result = _result(self.tokenizer, config, 0, 0, request)


def stream(
    model: nn.Module,
    tokenizer: Tokenizer,
    prompt: str | Sequence[int] | Prompt,
    config: GenerationConfig | None = None,
    **options: Any,
) -> TextStream:
    """Generate one completion, yielding its text as it is decoded (whole characters only).

    Options as for `generate`; n must be 1. Text that could still become a stop string is
    held back until it cannot, and the stop string itself is never yielded. After the loop,
    `.result` is the `GenerationResult`.
    """
    config = (config or GenerationConfig()).with_options(**options)
    if config.n != 1:
        raise ValueError(f"stream yields one completion: n must be 1, got {config.n}")
    config = config.with_options(max_batch_size=1)
    [[request]] = _requests(model, tokenizer, [prompt], config, track_text=True)
    return TextStream(model, tokenizer, request, config)


def _engine(model: nn.Module, config: GenerationConfig) -> Engine:
    return Engine(model, max_batch_size=config.max_batch_size, max_cache_tokens=config.max_cache_tokens, compile=config.compile)


def _requests(
    model: nn.Module,
    tokenizer: Tokenizer | None,
    prompts: str | Sequence[str | Sequence[int] | Prompt],
    config: GenerationConfig,
    track_text: bool = False,
) -> list[list[Request]]:
    """One group of n requests per prompt, with budgets clipped to the context limit."""
    if isinstance(prompts, (str, Prompt)):
        prompts = [prompts]
    if (config.stop or track_text) and tokenizer is None:
        raise ValueError("stop strings and streaming need a tokenizer to decode the text")
    limit = config.max_context or model.config.max_position_embeddings
    seed = random.getrandbits(63) if config.seed is None else config.seed
    groups = []
    vocab_size = model.config.vocab_size
    capped, cramped = 0, None  # the largest budget the context cut; a request whose thinking cannot close
    for index, prompt in enumerate(prompts):
        ids, asked = _prompt_ids(tokenizer, prompt, config.max_new_tokens)
        outside = next((token for token in ids if not 0 <= token < vocab_size), None)
        if outside is not None:
            raise ValueError(
                f"prompt {index}: token id {outside} is outside the model's vocabulary (ids 0 to {vocab_size - 1}, size {vocab_size})"
            )
        if len(ids) >= limit:
            raise ValueError(f"prompt {index} has {len(ids)} tokens; the context limit is {limit}")
        budget = min(asked, limit - len(ids))
        capped = max(capped, asked if asked > budget else 0)
        track = bool(config.stop) or track_text
        stream = prompt.stream if isinstance(prompt, Prompt) and prompt.stream is not None else index
        control = _thinking_control(tokenizer, config, ids)
        if cramped is None and control is not None and (tokens_needed(control) or 0) > budget:
            cramped = control, f"max_new_tokens {asked:,}" if asked == budget else f"the context leaves ({limit:,} minus the prompt)"
        groups.append([
            Request(
                ids, budget, request_key(seed, stream, sample), IncrementalText(tokenizer, config.stop) if track else None,
                thinking=None if control is None else ThinkingTracker(control),
            )
            for sample in range(config.n)
        ])  # fmt: skip
    if capped:  # said once per call, not per request: a huge budget would otherwise look like a hang
        context = "the model's context" if config.max_context is None else "max_context"
        warnings.warn(f"max_new_tokens {capped:,} is capped at {limit:,} ({context}) minus the prompt", stacklevel=3)
    if cramped is not None:
        warnings.warn(_cramped_message(*cramped), stacklevel=3)
    return groups


def _cramped_message(control: ThinkingControl, room: str) -> str:
    """Why a thinking budget does not fit in the `room` a request has, and what it costs."""
    answer = "an answer" if control.answer_budget is None else f"answer_budget {control.answer_budget:,}"
    return (
        f"thinking_budget {control.budget:,}, the forced closing text ({len(control.closing)} tokens) and {answer} need "
        f"{tokens_needed(control):,} new tokens, more than {room}: the closing text or the answer "
        "will be cut; raise max_new_tokens or lower thinking_budget"
    )


def _thinking_control(tokenizer: Tokenizer | None, config: GenerationConfig, prompt: list[int]) -> ThinkingControl | None:
    """The request's thinking limits in token ids, or None when the config sets none."""
    if not config.controls_thinking:
        return None
    start, end = (getattr(tokenizer, name, None) for name in ("think_start_id", "think_end_id"))
    if start is None or end is None:
        raise ValueError("thinking control needs a tokenizer with <think> and </think> tokens")
    opened = start in prompt and prompt[::-1].index(start) < (prompt[::-1].index(end) if end in prompt else len(prompt))
    return ThinkingControl(
        think_start=start, think_end=end, closing=tuple(tokenizer.encode(config.thinking_closing)),
        wait_tokens=tuple(tokenizer.encode(DEFAULT_WAIT)), budget=config.thinking_budget, min_thinking=config.min_thinking,
        wait=config.wait, answer_budget=config.answer_budget, opened=opened,
    )  # fmt: skip


def _prompt_ids(tokenizer: Tokenizer | None, prompt: str | Sequence[int] | Prompt, default_budget: int) -> tuple[list[int], int]:
    budget = default_budget
    if isinstance(prompt, Prompt):
        budget = default_budget if prompt.max_new_tokens is None else prompt.max_new_tokens
        prompt = prompt.content
    if isinstance(prompt, str):
        if tokenizer is None:
            raise ValueError("text prompts need a tokenizer; pass token ids instead")
        prompt = tokenizer.encode(prompt)
    ids = [int(token) for token in prompt]
    if not ids:
        raise ValueError("a prompt needs at least one token")
    return ids, budget


def _eos_ids(tokenizer: Tokenizer | None, config: GenerationConfig) -> tuple[int, ...]:
    if config.eos_token_ids is not None:
        return config.eos_token_ids
    return tuple(getattr(tokenizer, "eos_token_ids", ()))


def _result(tokenizer: Tokenizer | None, config: GenerationConfig, prompt_index: int, sample_index: int, request: Request) -> GenerationResult:
    text = None
    if tokenizer is not None:
        content = request.tokens[:-1] if request.finish_reason == FINISH_EOS else request.tokens
        text = tokenizer.decode(content)
        if request.finish_reason == FINISH_STOP:
            text = truncate_at_stop(text, config.stop)
    return GenerationResult(
        prompt_index=prompt_index,
        sample_index=sample_index,
        prompt_token_ids=tuple(request.prompt),
        token_ids=tuple(request.tokens),
        text=text,
        finish_reason=request.finish_reason,
        logprobs=tuple(request.logprobs),
        sampling_logprobs=tuple(request.sampling_logprobs),
        forced=tuple(request.forced),
        thinking_tokens=None if request.thinking is None else request.thinking.thinking,
        answer_tokens=None if request.thinking is None else request.thinking.answer,
    )
