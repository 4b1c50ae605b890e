"""Tests for reasoning.prompts: the exact strings of every prompt the evaluations send."""

from __future__ import annotations

import pytest

from reasoning.prompts import COT_SUFFIX, MATH_PROMPT, build_prompt, chat_prompt, math_prompt

PROBLEM = "What is $1+1$?"
BASE = (
    "You are a helpful math assistant.\n"
    "Answer the question and write the final result on a new line as:\n"
    "\\boxed{ANSWER}\n\n"
    "Question:\n"
    "What is $1+1$?\n\n"
    "Answer:"
)
COT = BASE + "\n\nExplain step by step."


def test_templates_are_the_published_protocol_strings():
    assert MATH_PROMPT == (
        "You are a helpful math assistant.\nAnswer the question and write the final result on a new line as:\n"
        "\\boxed{ANSWER}\n\nQuestion:\n{problem}\n\nAnswer:"
    )
    assert COT_SUFFIX == "\n\nExplain step by step."


def test_math_prompt_base_and_chain_of_thought():
    assert math_prompt(PROBLEM) == BASE
    assert math_prompt(PROBLEM, cot=True) == COT


def test_math_prompt_keeps_braces_in_the_problem_verbatim():
    problem = "Simplify $\\frac{a}{b}$ given {problem} and {0}."
    assert math_prompt(problem) == BASE.replace("What is $1+1$?", problem)


def test_chat_prompt_with_thinking_on_is_the_user_turn_and_the_generation_prompt():
    expected = f"<|im_start|>user\n{BASE}<|im_end|>\n<|im_start|>assistant\n"
    assert chat_prompt(PROBLEM) == expected


def test_chat_prompt_with_thinking_off_closes_an_empty_think_block():
    expected = f"<|im_start|>user\n{BASE}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    assert chat_prompt(PROBLEM, enable_thinking=False) == expected


def test_chat_prompt_with_chain_of_thought_puts_the_suffix_in_the_user_turn():
    expected = f"<|im_start|>user\n{COT}<|im_end|>\n<|im_start|>assistant\n"
    assert chat_prompt(PROBLEM, cot=True) == expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"kind": "base"}, BASE),
        ({"kind": "base", "cot": True}, COT),
        ({"kind": "base", "enable_thinking": False}, BASE),
        ({"kind": "reasoning"}, f"<|im_start|>user\n{BASE}<|im_end|>\n<|im_start|>assistant\n"),
        (
            {"kind": "reasoning", "cot": True, "enable_thinking": False},
            f"<|im_start|>user\n{COT}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
        ),
    ],
)
def test_build_prompt_dispatches_on_model_kind(kwargs, expected):
    assert build_prompt(PROBLEM, **kwargs) == expected


def test_build_prompt_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown prompt kind 'chat'"):
        build_prompt(PROBLEM, kind="chat")


def test_a_checkpoint_template_renders_the_reasoning_prompt():
    def chat(messages, *, add_generation_prompt, enable_thinking):
        return f"<custom thinking={enable_thinking}>{messages[0]['content']}<reply>"

    prompt = build_prompt(PROBLEM, kind="reasoning", enable_thinking=False, chat=chat)
    assert prompt == f"<custom thinking=False>{math_prompt(PROBLEM)}<reply>"
    assert build_prompt(PROBLEM, kind="base", chat=chat) == math_prompt(PROBLEM)  # base models take plain text
