"""Thinking control: bound, extend or floor how long a request thinks inside <think>...</think>.

Qwen3's reasoning models think between `<think>` and `</think>`, then answer. Three controls,
each per request, in token ids (the caller turns text into ids with the model's tokenizer):

- a thinking budget: after B thinking tokens the engine appends a closing sequence (by
  default a short sentence saying time is up, then `</think>`), as forced tokens, and the
  answer follows (Qwen3's thinking budget; s1's budget forcing, Muennighoff et al. 2025);
- a floor: `</think>` cannot be chosen before M thinking tokens (its probability is zero);
- wait extension: a `</think>` the model chooses is replaced by "Wait" at most W times
  (s1), so the model keeps thinking.

Forced tokens are not sampled: they are marked, so RL never counts them as the policy's.
`ThinkingTracker` follows one request token by token; it is plain Python, and the engine
asks it, after each sampled token, which token to take instead and which token to ban next.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

DEFAULT_CLOSING = "\n\nTime is up, so I will answer with what I have worked out so far.\n</think>\n\n"
DEFAULT_WAIT = "Wait"
BEFORE, THINKING, ANSWER = "before", "thinking", "answer"


@dataclass(frozen=True)
class ThinkingControl:
    """One request's thinking limits, in token ids.

    budget: thinking tokens (sampled after <think>) before `closing` is forced; None: no bound.
    min_thinking: thinking tokens before `think_end` may be chosen.
    wait: times a chosen `think_end` is replaced by `wait_tokens`.
    answer_budget: sampled answer tokens (after `think_end`, or from the start when the reply
        never opens <think>) before the request ends; None: no bound but max_new_tokens.
    opened: the prompt itself opens <think> (the 2507 Thinking models' template), so thinking
        starts with the first generated token rather than after a generated `think_start`.
    """

    think_start: int
    think_end: int
    closing: tuple[int, ...]
    wait_tokens: tuple[int, ...] = ()
    budget: int | None = None
    min_thinking: int = 0
    wait: int = 0
    answer_budget: int | None = None
    opened: bool = False

    def __post_init__(self) -> None:
        if self.budget is not None and self.budget < 0:
            raise ValueError(f"thinking budget must be >= 0, got {self.budget}")
        if self.answer_budget is not None and self.answer_budget < 1:
            raise ValueError(f"answer budget must be >= 1, got {self.answer_budget}")
        if self.min_thinking < 0 or self.wait < 0:
            raise ValueError(f"min_thinking and wait must be >= 0, got {self.min_thinking} and {self.wait}")
        if self.budget is not None and self.min_thinking > self.budget:
            raise ValueError(f"min_thinking ({self.min_thinking}) exceeds the thinking budget ({self.budget})")
        if self.think_end not in self.closing:
            raise ValueError("the closing sequence must contain the end-of-thinking token")
        if self.wait and not self.wait_tokens:
            raise ValueError("wait extension needs the tokens of 'Wait'")


def tokens_needed(control: ThinkingControl) -> int | None:
    """The new tokens a request takes to think its whole budget and still close and answer:
    <think> (unless the prompt opened it), the thinking, each "Wait", the forced closing text and
    the answer (its answer_budget, else one token). None without a budget."""
    if control.budget is None:
        return None
    opening = 0 if control.opened else 1
    waits = control.wait * len(control.wait_tokens)
    return opening + control.budget + waits + len(control.closing) + (control.answer_budget or 1)


class ThinkingTracker:
    """Where one request is: before, inside or after its thinking, and what is forced next."""

    def __init__(self, control: ThinkingControl) -> None:
        self.control = control
        self.phase = THINKING if control.opened else BEFORE
        self.thinking = 0  # sampled tokens inside <think>
        self.answer = 0  # sampled tokens outside it: after </think>, or every one when no <think> comes
        self.waits = 0
        self.forced: deque[int] = deque()
        self._check_budget()

    def with_budget(self, budget: int) -> ThinkingTracker:
        """A copy of this tracker's state under another budget: where a run with that budget
        stands after the same tokens (the budget sweep branches a request this way)."""
        twin = ThinkingTracker.__new__(ThinkingTracker)
        twin.__dict__.update(self.__dict__, control=replace(self.control, budget=budget), forced=deque(self.forced))
        twin._check_budget()
        return twin

    @property
    def banned(self) -> int | None:
        """The token that may not be sampled next: `think_end` below the floor."""
        if self.phase == THINKING and not self.forced and self.thinking < self.control.min_thinking:
            return self.control.think_end
        return None

    @property
    def finished(self) -> bool:
        """The answer has used its own budget."""
        return self.control.answer_budget is not None and self.answer >= self.control.answer_budget

    def next_token(self, sampled: int) -> tuple[int, bool]:
        """The token the request takes after `sampled` was drawn, and whether it was forced.

        Forced tokens are taken first; a `think_end` drawn while waits remain becomes "Wait";
        reaching the budget queues the closing sequence, whose tokens after `think_end` then
        open the answer.
        """
        control = self.control
        if not self.forced and self.phase == THINKING and sampled == control.think_end and self.waits < control.wait:
            self.waits += 1
            self.forced.extend(control.wait_tokens)
        forced = bool(self.forced)
        token = self.forced.popleft() if forced else sampled
        if self.phase == THINKING and token == control.think_end:
            self.phase = ANSWER
        elif self.phase == BEFORE and token == control.think_start:
            self.phase = THINKING
        elif not forced and self.phase == THINKING:
            self.thinking += 1
        elif not forced:  # after </think>, or with no thinking at all (thinking off): the answer
            self.answer += 1
        self._check_budget()
        return token, forced

    def _check_budget(self) -> None:
        """At the budget, queue the closing sequence (once: it ends the thinking)."""
        budget = self.control.budget
        if self.phase == THINKING and budget is not None and self.thinking >= budget and not self.forced:
            self.forced.extend(self.control.closing)
