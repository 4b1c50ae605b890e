"""One sequence to generate, as the engine and its callers see it: tokens so far, their
log-probs, which were forced by thinking control, why it stopped, and its branches (the
thinking-budget sweep)."""

from __future__ import annotations

from dataclasses import dataclass, field

from reasoning.generation.detokenize import IncrementalText
from reasoning.generation.options import SamplingParams
from reasoning.generation.thinking import THINKING, ThinkingTracker

FINISH_EOS, FINISH_STOP, FINISH_LENGTH, FINISH_CANCELLED = "eos", "stop", "length", "cancelled"


@dataclass(eq=False)
class Request:
    """One sequence to generate and its progress: tokens, log-probs and why it stopped."""

    prompt: list[int]
    max_new_tokens: int
    key: int = 0  # its random stream (see sampling.request_key)
    text: IncrementalText | None = None  # decodes as it goes, for stop strings and streaming
    thinking: ThinkingTracker | None = None  # thinking budget, floor and wait extension
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    sampling_logprobs: list[float] = field(default_factory=list)
    forced: list[bool] = field(default_factory=list)  # appended by thinking control, not sampled
    finish_reason: str | None = None
    branch_at: frozenset[int] = frozenset()  # thinking budgets at which to branch (the budget sweep)
    branches: dict[int, Request] = field(default_factory=dict)  # budget -> the branch closed there
    inherited: int = 0  # tokens a branch took over from its parent (decoded once, by the parent)
    sampling: SamplingParams | None = None  # its own sampling, in a run of mixed requests (`Engine.serve`)

    def add(self, token: int, logprob: float, sampling_logprob: float, eos_token_ids: frozenset[int], forced: bool = False) -> bool:
        """Record one generated token; True when the request is finished.

        A forced token has no log-probs of its own (0.0 in both lists): it was not sampled.
        """
        self.tokens.append(token)
        self.logprobs.append(0.0 if forced else logprob)
        self.sampling_logprobs.append(0.0 if forced else sampling_logprob)
        self.forced.append(forced)
        if token in eos_token_ids and not forced:
            self.finish_reason = FINISH_EOS
        elif self.text is not None and self.text.push(token):
            self.finish_reason = FINISH_STOP
        elif len(self.tokens) >= self.max_new_tokens or (self.thinking is not None and self.thinking.finished):
            self.finish_reason = FINISH_LENGTH
        if self.finish_reason is not None and self.text is not None:
            self.text.flush()
        return self.finish_reason is not None

    def branch(self) -> Request | None:
        """When the thinking has just reached a budget in branch_at: a copy of this request that
        closes its thinking there (as a run with that budget would), recorded in `branches`."""
        tracker = self.thinking
        if tracker is None or tracker.phase != THINKING or tracker.thinking not in self.branch_at or tracker.thinking in self.branches:
            return None
        branch = Request(
            self.prompt, self.max_new_tokens, self.key, None if self.text is None else self.text.copy(),
            tracker.with_budget(tracker.thinking), list(self.tokens), list(self.logprobs), list(self.sampling_logprobs),
            list(self.forced), self.finish_reason, inherited=len(self.tokens),
        )  # fmt: skip
        self.branches[tracker.thinking] = branch
        return branch

    def cancel(self) -> None:
        """Stop generating this request; the engine drops it before its next step."""
        if self.finish_reason is None:
            self.finish_reason = FINISH_CANCELLED
            if self.text is not None:
                self.text.flush()
