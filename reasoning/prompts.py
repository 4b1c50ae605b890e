"""The prompt templates: math problems (base models, chain of thought, reasoning models), multiple
choice, and the published prompts by name (`PRESETS`: r1, qwen25-math, olympiad-official,
gpqa-official), each citing its source.

The defaults follow the protocol behind the published Qwen3-0.6B MATH-500 figures (base
15.2%, reasoning 48.2%), so results here compare with them: `MATH_PROMPT` asking for the
final answer in \\boxed{}, greedy decoding, up to 2048 new tokens. Chain of thought appends
`COT_SUFFIX` to the prompt; a reasoning model gets the prompt as the single user turn of its
chat template, thinking on. (Decoding settings belong to generation; only text lives here.)
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from reasoning.chat_template import format_chat

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


# Prompt presets by name: the published prompts a paper's figures were measured under. Each
# turns a problem (its question, its options for multiple choice, its metadata) into chat
# messages; a reasoning model gets them through its chat template, a base model gets the user
# turn as plain text (Qwen2.5-Math's harness sends its chat-formatted string to every model,
# base ones too, so that preset renders the same string for both). The texts are data that
# must match their sources exactly: each names where it comes from. `book` is the prompt above
# (MATH_PROMPT, CHOICE_PROMPT), the default where nothing else applies.
Messages = list[dict[str, str]]

# DeepSeek-R1's model card (deepseek-ai/DeepSeek-R1, "Usage Recommendations") and Qwen3's
# (Qwen/Qwen3-0.6B, "Best Practices": math problems) both ask for this sentence in the prompt.
STEP_BY_STEP = "Please reason step by step, and put your final answer within \\boxed{}."
# Qwen3's model card, "Best Practices", multiple-choice questions.
JSON_CHOICE = 'Please show your choice in the `answer` field with only the choice letter, e.g., `"answer": "C"`.'


@dataclass(frozen=True)
class Preset:
    """A named prompt: messages for a math problem and for a multiple-choice one (None where its
    source has none), and whether a base model gets the chat-formatted string too."""

    name: str
    source: str
    math: Callable[[str, Mapping[str, Any]], Messages] | None
    choice: Callable[[str, Sequence[str]], Messages] | None
    base_as_chat: bool = False


def _user(text: str) -> Messages:
    return [{"role": "user", "content": text}]


def _letters(options: Sequence[str]) -> str:
    if not 2 <= len(options) <= len(string.ascii_uppercase):
        raise ValueError(f"a multiple-choice question needs 2 to 26 options, got {len(options)}")
    return string.ascii_uppercase[: len(options)]


def answer_choices(question: str, options: Sequence[str]) -> str:
    """Qwen2.5-Math's multiple-choice question (QwenLM/Qwen2.5-Math, evaluation/parser.py,
    `parse_question`, mmlu_stem): "question\\nAnswer Choices: (A) a (B) b ..."."""
    listed = " ".join(f"({letter}) {str(option).strip()}" for letter, option in zip(_letters(options), options, strict=True))
    return f"{question.strip()}\nAnswer Choices: {listed}"


def r1_math(question: str, meta: Mapping[str, Any]) -> Messages:
    """DeepSeek-R1 and Qwen3 model cards: the problem, then the step-by-step sentence, one user turn."""
    return _user(f"{question}\n{STEP_BY_STEP}")


def r1_choice(question: str, options: Sequence[str]) -> Messages:
    """Qwen3's model card asks for the letter in a JSON `answer` field; the options are listed as
    Qwen2.5-Math's harness lists them (the card gives no layout)."""
    return _user(f"{answer_choices(question, options)}\n{JSON_CHOICE}")


def qwen25_math(question: str, meta: Mapping[str, Any]) -> Messages:
    """Qwen2.5-Math's harness, prompt type "qwen25-math-cot" (evaluation/utils.py,
    PROMPT_TEMPLATES): the step-by-step sentence as the system turn, the problem as the user turn."""
    return [{"role": "system", "content": STEP_BY_STEP}, {"role": "user", "content": question}]


def qwen25_math_choice(question: str, options: Sequence[str]) -> Messages:
    """The same harness on mmlu_stem: the question with its "Answer Choices" as the user turn."""
    return qwen25_math(answer_choices(question, options), {})


# OlympiadBench's official prompt (OpenBMB/OlympiadBench, inference/code/evaluators/evaluator.py,
# `make_prompt` and `get_answer_type_text`, English open-ended maths): the answer type, several
# answers joined by commas, the unit outside the box; the problem follows on the next line.
_ANSWER_TYPES = {
    "Numerical": "a numerical value",
    "Expression": "an expression",
    "Equation": "an equation",
    "Interval": "an interval",
}


def _answer_type(answer_type: str) -> str:
    head = answer_type.split("-")[0]
    for name, text in _ANSWER_TYPES.items():
        if name in head:
            return text
    raise ValueError(f"OlympiadBench answer type {answer_type!r} is not one of {', '.join(_ANSWER_TYPES)}")


def _answer_type_text(answer_type: str, multiple: bool) -> str:
    # The official code leaves the type out for tuples ("'Tuple' has various meanings") and
    # for answers a human must judge.
    if "Need_human_evaluate" in answer_type or "Tuple" in answer_type:
        return ""
    if not multiple:
        return f"The answer of The problem should be {_answer_type(answer_type)}. "
    types = [_answer_type(part) for part in answer_type.split(",")]
    if len(set(types)) == 1:
        return f"The problem has multiple answers, each of them should be {types[0]}. "
    return f"The problem has multiple answers, with the answers in order being {', '.join(types)}. "


def olympiad_instruction(meta: Mapping[str, Any]) -> str:
    """The official instruction for one OlympiadBench problem, from its answer_type,
    is_multiple_answer and unit fields."""
    missing = [name for name in ("answer_type", "is_multiple_answer", "unit") if name not in meta]
    if missing:
        raise ValueError(f"the olympiad-official prompt needs OlympiadBench's {missing[0]!r} field; this problem has none")
    multiple = bool(meta["is_multiple_answer"])
    boxed = "\\boxed{multiple answers connected with commas}" if multiple else "\\boxed{answer}"
    unit_text = ""
    if meta["unit"]:
        boxed += "(unit)"
        unit_text = ", note that the unit of the answer should not be included in \\boxed{}"
    return (
        "The following is an open-ended problem from an International Math competition. "
        f"{_answer_type_text(str(meta['answer_type']), multiple)}"
        "Please calculate the answer according to the given requirements and the information provided. "
        "Please use LaTeX format to represent the variables and formulas used in the solution process and results. "
        f'Please end your solution with "So the final answer is {boxed}." and give the result explicitly{unit_text}.'
    )


def olympiad_official(question: str, meta: Mapping[str, Any]) -> Messages:
    """OlympiadBench's `make_input`: the instruction, a newline, the problem, as one user turn."""
    return _user(f"{olympiad_instruction(meta)}\n{question}")


def gpqa_official(question: str, options: Sequence[str]) -> Messages:
    """GPQA's zero-shot prompt (idavidrein/gpqa, baselines/utils.py, `base_prompt` and
    `zero_shot_prompt`): the question, "(X)" options, and the answer sentence to fill."""
    listed = "\n".join(f"({letter}) {option}" for letter, option in zip(_letters(options), options, strict=True))
    return _user(
        f"What is the correct answer to this question: {question}\n\nChoices:\n{listed}\n\n"
        'Format your response as follows: "The correct answer is (insert answer here)"'
    )


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("r1", "DeepSeek-R1 and Qwen3 model cards", r1_math, r1_choice),
        Preset("qwen25-math", "QwenLM/Qwen2.5-Math harness, qwen25-math-cot", qwen25_math, qwen25_math_choice, base_as_chat=True),
        Preset("olympiad-official", "OpenBMB/OlympiadBench inference/code/evaluators/evaluator.py", olympiad_official, None),
        Preset("gpqa-official", "idavidrein/gpqa baselines/utils.py, zero-shot", None, gpqa_official),
    )
}
BOOK = "book"  # the book's prompt (reasoning.prompts), the default
OFFICIAL = "official"  # each benchmark's own official prompt, where it has one
PROMPT_NAMES: tuple[str, ...] = (BOOK, *PRESETS, OFFICIAL)


def check_prompt_name(name: str) -> str:
    """`name` if it is a known prompt, else a ValueError listing them."""
    if name not in PROMPT_NAMES:
        raise ValueError(f"unknown prompt {name!r}; choose one of {', '.join(PROMPT_NAMES)}")
    return name


def preset_prompt(
    name: str,
    question: str,
    *,
    kind: PromptKind,
    meta: Mapping[str, Any] | None = None,
    options: Sequence[str] | None = None,
    enable_thinking: bool = True,
    chat: ChatFormat = format_chat,
) -> str:
    """Preset `name`'s prompt for one problem (multiple choice when `options` are given), for a
    model of `kind`: base, the user turn as text; reasoning, the messages through `chat`."""
    preset = PRESETS.get(name)
    if preset is None:
        raise ValueError(f"unknown prompt preset {name!r}; choose one of {', '.join(PRESETS)}")
    render = preset.math if options is None else preset.choice
    if render is None:
        what = "math problems" if options is None else "multiple-choice questions"
        raise ValueError(f"the {name} prompt has no form for {what}")
    messages = render(question, meta or {}) if options is None else render(question, options)
    if kind == "base":
        if preset.base_as_chat:
            return format_chat(messages, add_generation_prompt=True, enable_thinking=True)
        return messages[-1]["content"]
    if kind == "reasoning":
        return chat(messages, add_generation_prompt=True, enable_thinking=enable_thinking)
    raise ValueError(f"unknown prompt kind {kind!r}; expected 'base' or 'reasoning'")
