"""Split a Qwen3 reply into its thinking (`reasoning_content`) and its answer (`content`).

As vLLM's Qwen3 reasoning parser does: a `<think>` the model writes at the start of its reply
is dropped, the text before `</think>` is the reasoning, the text after it the content, and a
reply whose thinking never closed (cut by the token budget) is all reasoning. Which mode a
reply starts in comes from its prompt: a chat prompt that leaves `<think>` open (the 2507
Thinking models' template) starts the reply inside the thinking; the hybrid models write
`<think>` themselves; a prompt with thinking off (`<think>\\n\\n</think>\\n\\n`, closed) or a
model that never thinks gives content only.

`ReasoningStream` does the same split while the text grows, so the streamed deltas concatenate
to exactly the fields of the whole reply: it holds back a tail that may still become a tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

THINK_START = "<think>"
THINK_END = "</think>"


def prompt_opens_thinking(prompt: str) -> bool:
    """Whether the prompt's last turn leaves a `<think>` open, so the reply starts as reasoning."""
    last_turn = prompt[prompt.rfind("<|im_start|>") :]
    return last_turn.rfind(THINK_START) > last_turn.rfind(THINK_END)


class Split(NamedTuple):
    """A reply's reasoning and content; None for a part the reply does not have."""

    reasoning: str | None
    content: str | None


def split_reasoning(text: str, opens_thinking: bool) -> Split:
    """The whole reply `text` as reasoning and content (see the module's docstring)."""
    reasoning, content = _parts(text, opens_thinking, final=True)
    return Split(reasoning, content or None)


def _parts(text: str, opens_thinking: bool, final: bool) -> tuple[str | None, str]:
    """(reasoning or None, content) of `text`; unless `final`, without a tail that may still become a tag."""
    if not opens_thinking:
        start = text.lstrip()
        if start.startswith(THINK_START):
            text, opens_thinking = start[len(THINK_START) :], True
        elif not final and THINK_START.startswith(start):  # nothing yet, or a <think> under way
            return None, ""
    if not opens_thinking:
        return None, text
    reasoning, closed, content = text.partition(THINK_END)
    if not closed and not final:
        reasoning = reasoning[: len(reasoning) - _partial_tag(reasoning, THINK_END)]
    return reasoning, content


def _partial_tag(text: str, tag: str) -> int:
    """The length of the longest end of `text` that begins `tag` (and so may still become it)."""
    return next((size for size in range(min(len(tag) - 1, len(text)), 0, -1) if text.endswith(tag[:size])), 0)


class ReasoningStream:
    """The reasoning and content deltas of a reply whose text grows: feed it the text so far."""

    def __init__(self, opens_thinking: bool) -> None:
        self.opens_thinking = opens_thinking
        self._sent_reasoning = 0
        self._sent_content = 0

    def update(self, text: str, final: bool = False) -> tuple[str, str]:
        """The (reasoning, content) added since the last call; `final` once the text is whole."""
        reasoning, content = _parts(text, self.opens_thinking, final)
        reasoning = reasoning or ""
        new_reasoning, new_content = reasoning[self._sent_reasoning :], content[self._sent_content :]
        self._sent_reasoning, self._sent_content = len(reasoning), len(content)
        return new_reasoning, new_content


def reasoning_tokens(token_ids: Sequence[int], split: Split, think_end_id: int | None) -> int:
    """How many of a reply's tokens are thinking: through `</think>`, or all of them if it never closed."""
    if split.reasoning is None:
        return 0
    return list(token_ids).index(think_end_id) + 1 if think_end_id in token_ids else len(token_ids)
