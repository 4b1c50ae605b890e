"""The prompt templates: math problems (base models, chain of thought, reasoning models), multiple choice.

The defaults follow the protocol behind the published Qwen3-0.6B MATH-500 figures (base
15.2%, reasoning 48.2%), so results here compare with them: `MATH_PROMPT` asking for the
final answer in \\boxed{}, greedy decoding, up to 2048 new tokens. Chain of thought appends
`COT_SUFFIX` to the prompt; a reasoning model gets the prompt as the single user turn of its
chat template, thinking on. (Decoding settings belong to generation; only text lives here.)
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Literal, Protocol

from reasoning.tokenizer import format_chat

# Filled with `str.replace`, never `str.format`: "\boxed{ANSWER}" holds literal braces.
MATH_PROMPT = (
    "You are a helpful math assistant.\n"
    "Answer the question and write the final result on a new line as:\n"
    "\\boxed{ANSWER}\n"
    "\n"
    "Question:\n"
    "{problem}\n"
    "\n"
    "Answer:"
)
COT_SUFFIX = "\n\nExplain step by step."

PromptKind = Literal["base", "reasoning"]


class ChatFormat(Protocol):
    """Renders chat messages as a prompt: `format_chat`, or a tokenizer's `apply_chat_template`."""

    def __call__(self, messages: list[dict], *, add_generation_prompt: bool, enable_thinking: bool) -> str: ...


def math_prompt(problem: str, *, cot: bool = False) -> str:
    """The plain-text prompt for a base model, with the chain-of-thought suffix if `cot`."""
    prompt = MATH_PROMPT.replace("{problem}", problem)
    return prompt + COT_SUFFIX if cot else prompt


def chat_prompt(problem: str, *, enable_thinking: bool = True, cot: bool = False, chat: ChatFormat = format_chat) -> str:
    """The math prompt as the one user turn of a chat template, ready for the reply.

    `chat` renders the messages: the built-in Qwen3 format by default; pass a tokenizer's
    `apply_chat_template` to use the checkpoint's own template (the 2507 Thinking and
    Instruct models each have theirs).
    """
    messages = [{"role": "user", "content": math_prompt(problem, cot=cot)}]
    return chat(messages, add_generation_prompt=True, enable_thinking=enable_thinking)


def build_prompt(
    problem: str, *, kind: PromptKind, cot: bool = False, enable_thinking: bool = True, chat: ChatFormat = format_chat
) -> str:
    """The prompt for a model of `kind`; `enable_thinking` and `chat` apply to reasoning models only."""
    if kind == "base":
        return math_prompt(problem, cot=cot)
    if kind == "reasoning":
        return chat_prompt(problem, enable_thinking=enable_thinking, cot=cot, chat=chat)
    raise ValueError(f"unknown prompt kind {kind!r}; expected 'base' or 'reasoning'")


# Multiple choice (MMLU-STEM, GPQA): options listed as "A) ...", the choice stated as "Answer: X".
# A base model's prompt ends with "Answer:", so that its next token is the letter (which also
# lets the letters be scored by their log-likelihood); a chat turn leaves the reply open.
CHOICE_PROMPT = (
    "You are a helpful assistant answering a multiple-choice question.\n"
    "Reason about the question, then write the letter of the correct option on a new line as:\n"
    "Answer: X\n"
    "where X is one of {letters}.\n"
    "\n"
    "Question:\n"
    "{question}\n"
    "\n"
    "Options:\n"
    "{options}"
)
CHOICE_ANSWER = "\n\nAnswer:"


def choice_prompt(
    question: str,
    options: Sequence[str],
    *,
    kind: PromptKind,
    enable_thinking: bool = True,
    chat: ChatFormat = format_chat,
) -> str:
    """The multiple-choice prompt for a model of `kind`; option k gets the k-th capital letter."""
    if not 2 <= len(options) <= len(string.ascii_uppercase):
        raise ValueError(f"a multiple-choice question needs 2 to 26 options, got {len(options)}")
    letters = string.ascii_uppercase[: len(options)]
    listed = "\n".join(f"{letter}) {option}" for letter, option in zip(letters, options))
    named = f"{', '.join(letters[:-1])} or {letters[-1]}"
    text = fill(CHOICE_PROMPT, letters=named, question=question, options=listed)
    if kind == "base":
        return text + CHOICE_ANSWER
    return task_prompt(text, kind=kind, enable_thinking=enable_thinking, chat=chat)


# Prompts of the inference-time scaling methods (best-of-N judging, self-refinement). The
# solution under review is shown without its <think> block: its visible answer is what counts.
JUDGE_PROMPT = (
    "You are a strict math teacher grading a student's solution.\n"
    "Rate how likely the solution's final answer is correct, from 0 (certainly wrong) to 10\n"
    "(certainly right). Reply with the score only, as: Score: N/10\n"
    "\n"
    "Question:\n"
    "{problem}\n"
    "\n"
    "Solution:\n"
    "{solution}\n"
    "\n"
    "Score:"
)
CRITIQUE_PROMPT = (
    "You are a careful math reviewer. Check the solution below step by step and point out\n"
    "every mistake, gap or wrong final answer. Do not write a new solution.\n"
    "\n"
    "Question:\n"
    "{problem}\n"
    "\n"
    "Solution:\n"
    "{solution}\n"
    "\n"
    "Review:"
)
REVISE_PROMPT = (
    "You are a helpful math assistant. Improve the solution below using the review, fixing\n"
    "every mistake it found. Write the final result on a new line as:\n"
    "\\boxed{ANSWER}\n"
    "\n"
    "Question:\n"
    "{problem}\n"
    "\n"
    "Solution:\n"
    "{solution}\n"
    "\n"
    "Review:\n"
    "{critique}\n"
    "\n"
    "Improved solution:"
)


def visible_text(completion: str) -> str:
    """A completion without its reasoning: what follows the last </think>, else all of it."""
    return completion.rsplit("</think>", 1)[1].strip() if "</think>" in completion else completion.strip()


def fill(template: str, **fields: str) -> str:
    """Fill {name} fields in one pass, so text inside a field (a model's output) is never re-filled."""
    pattern = re.compile("|".join(re.escape("{" + name + "}") for name in fields))
    return pattern.sub(lambda match: fields[match.group(0)[1:-1]], template)


def task_prompt(text: str, *, kind: PromptKind, enable_thinking: bool = False, chat: ChatFormat = format_chat) -> str:
    """A filled task prompt as a base-model prompt or a single chat turn (thinking off by default)."""
    if kind == "base":
        return text
    if kind == "reasoning":
        return chat([{"role": "user", "content": text}], add_generation_prompt=True, enable_thinking=enable_thinking)
    raise ValueError(f"unknown prompt kind {kind!r}; expected 'base' or 'reasoning'")
