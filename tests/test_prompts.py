"""Tests for reasoning.prompts: the exact strings of every prompt the evaluations send."""

from __future__ import annotations

from pathlib import Path

import pytest

from reasoning.data import Problem
from reasoning.evaluation.benchmarks import load_benchmark
from reasoning.evaluation.tasks import Task
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


# -- prompt presets: each renders its source's exact string -------------------------------------
FIXTURES = Path(__file__).parent / "data" / "benchmarks"
MATH_BENCHMARKS = ["math500", "aime24", "aime25", "amc23", "gsm8k", "minerva", "olympiadbench"]
AIME25_0 = "Find the sum of all integer bases $b>9$ for which $17_b$ is a divisor of $97_b.$"


def first_problem(name: str):
    task = load_benchmark(name, data_dir=FIXTURES, limit=1)
    return task, task.problems[0]


def test_r1_on_aime25_is_the_model_cards_sentence_after_the_problem():
    """DeepSeek-R1 model card ("Usage Recommendations") and Qwen3's ("Best Practices")."""
    task, problem = first_problem("aime25")
    assert task.prompt(problem, kind="base", prompt="r1") == (
        "Find the sum of all integer bases $b>9$ for which $17_b$ is a divisor of $97_b.$\n"
        "Please reason step by step, and put your final answer within \\boxed{}."
    )
    assert task.prompt(problem, kind="reasoning", prompt="r1") == (
        "<|im_start|>user\nFind the sum of all integer bases $b>9$ for which $17_b$ is a divisor of $97_b.$\n"
        "Please reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n<|im_start|>assistant\n"
    )


def test_qwen25_math_on_aime25_is_the_harness_string_for_base_and_reasoning_models():
    """QwenLM/Qwen2.5-Math, evaluation/utils.py, PROMPT_TEMPLATES["qwen25-math-cot"]."""
    task, problem = first_problem("aime25")
    harness = (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>user\nFind the sum of all integer bases $b>9$ for which $17_b$ is a divisor of $97_b.$<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert task.prompt(problem, kind="base", prompt="qwen25-math") == harness
    assert task.prompt(problem, kind="reasoning", prompt="qwen25-math") == harness
    assert task.prompt(problem, kind="reasoning", prompt="qwen25-math", enable_thinking=False) == harness + "<think>\n\n</think>\n\n"


@pytest.mark.parametrize("name", MATH_BENCHMARKS)
def test_each_math_benchmarks_first_problem_under_each_preset(name):
    task, problem = first_problem(name)
    q = problem.question
    assert task.prompt(problem, kind="base") == (  # book: MATH_PROMPT
        "You are a helpful math assistant.\nAnswer the question and write the final result on a new line as:\n"
        f"\\boxed{{ANSWER}}\n\nQuestion:\n{q}\n\nAnswer:"
    )
    assert task.prompt(problem, kind="base", prompt="book") == task.prompt(problem, kind="base")
    r1 = f"{q}\nPlease reason step by step, and put your final answer within \\boxed{{}}."
    assert task.prompt(problem, kind="base", prompt="r1") == r1
    assert task.prompt(problem, kind="base", prompt="qwen25-math") == (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        f"<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n"
    )
    with pytest.raises(ValueError, match="the gpqa-official prompt has no form for math problems"):
        task.prompt(problem, kind="base", prompt="gpqa-official")


def test_olympiadbench_official_prompt_of_its_first_problem():
    """OpenBMB/OlympiadBench, inference/code/evaluators/evaluator.py: make_prompt + "\\n" + question."""
    task, problem = first_problem("olympiadbench")
    assert problem.meta["answer_type"] == "Numerical" and not problem.meta["is_multiple_answer"] and problem.meta["unit"] is None
    official = (
        "The following is an open-ended problem from an International Math competition. "
        "The answer of The problem should be a numerical value. "
        "Please calculate the answer according to the given requirements and the information provided. "
        "Please use LaTeX format to represent the variables and formulas used in the solution process and results. "
        'Please end your solution with "So the final answer is \\boxed{answer}." and give the result explicitly.'
        f"\n{problem.question}"
    )
    assert task.prompt(problem, kind="base", prompt="olympiad-official") == official
    assert task.prompt(problem, kind="base", prompt="official") == official  # the benchmark's own
    assert task.prompt(problem, kind="reasoning", prompt="official") == f"<|im_start|>user\n{official}<|im_end|>\n<|im_start|>assistant\n"


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"answer_type": "Expression", "is_multiple_answer": True, "unit": None},
         "The following is an open-ended problem from an International Math competition. The problem has multiple answers, each of "
         "them should be an expression. Please calculate the answer according to the given requirements and the information provided. "
         "Please use LaTeX format to represent the variables and formulas used in the solution process and results. Please end your "
         'solution with "So the final answer is \\boxed{multiple answers connected with commas}." and give the result explicitly.\nQ?'),
        ({"answer_type": "Numerical", "is_multiple_answer": False, "unit": "km/h"},
         "The following is an open-ended problem from an International Math competition. The answer of The problem should be a "
         "numerical value. Please calculate the answer according to the given requirements and the information provided. Please use "
         "LaTeX format to represent the variables and formulas used in the solution process and results. Please end your solution with "
         '"So the final answer is \\boxed{answer}(unit)." and give the result explicitly, note that the unit of the answer should not '
         "be included in \\boxed{}.\nQ?"),
        ({"answer_type": "Tuple", "is_multiple_answer": True, "unit": None},
         "The following is an open-ended problem from an International Math competition. Please calculate the answer according to the "
         "given requirements and the information provided. Please use LaTeX format to represent the variables and formulas used in the "
         'solution process and results. Please end your solution with "So the final answer is \\boxed{multiple answers connected with '
         'commas}." and give the result explicitly.\nQ?'),
        ({"answer_type": "Numerical,Expression", "is_multiple_answer": True, "unit": None},
         "The following is an open-ended problem from an International Math competition. The problem has multiple answers, with the "
         "answers in order being a numerical value, an expression. Please calculate the answer according to the given requirements and "
         "the information provided. Please use LaTeX format to represent the variables and formulas used in the solution process and "
         'results. Please end your solution with "So the final answer is \\boxed{multiple answers connected with commas}." and give '
         "the result explicitly.\nQ?"),
    ],
)  # fmt: skip
def test_olympiad_official_states_the_answer_type_several_answers_and_the_unit(meta, expected):
    task = Task("olympiadbench", (Problem("0", "Q?", "1", meta=meta),), official_prompt="olympiad-official")
    assert task.prompt(task.problems[0], kind="base", prompt="official") == expected


def test_olympiad_official_needs_olympiadbenchs_fields_and_official_needs_a_benchmark_that_has_one():
    task, problem = first_problem("gsm8k")
    with pytest.raises(ValueError, match="needs OlympiadBench's 'answer_type' field"):
        task.prompt(problem, kind="base", prompt="olympiad-official")
    with pytest.raises(ValueError, match="gsm8k has no official prompt of its own"):
        task.prompt(problem, kind="base", prompt="official")
    with pytest.raises(ValueError, match="unknown prompt 'r2'; choose one of book, r1, qwen25-math"):
        task.prompt(problem, kind="base", prompt="r2")


MMLU_0_OPTIONS = [
    "maintain the population at a point corresponding to the midpoint of its logistic curve",
    "opt for zero population control once the K value of the curve has been reached",
    "reduce the carrying capacity cif the environment to lower the K value",
    "increase the mortality rate",
]


def test_mmlu_stems_first_question_under_each_preset():
    task, problem = first_problem("mmlu-stem")
    q = problem.question
    assert problem.meta["choices"] == MMLU_0_OPTIONS
    # Qwen2.5-Math's harness (evaluation/parser.py parse_question, mmlu_stem) in its qwen25-math-cot template.
    choices = (
        f"{q}\nAnswer Choices: (A) maintain the population at a point corresponding to the midpoint of its logistic curve "
        "(B) opt for zero population control once the K value of the curve has been reached "
        "(C) reduce the carrying capacity cif the environment to lower the K value (D) increase the mortality rate"
    )
    assert task.prompt(problem, kind="base", prompt="qwen25-math") == (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        f"<|im_start|>user\n{choices}<|im_end|>\n<|im_start|>assistant\n"
    )
    # Qwen3's model card, multiple-choice questions: the JSON answer field.
    assert task.prompt(problem, kind="base", prompt="r1") == (
        f'{choices}\nPlease show your choice in the `answer` field with only the choice letter, e.g., `"answer": "C"`.'
    )
    # GPQA's zero-shot format (idavidrein/gpqa, baselines/utils.py), which any four options take.
    assert task.prompt(problem, kind="base", prompt="gpqa-official") == (
        f"What is the correct answer to this question: {q}\n\nChoices:\n"
        "(A) maintain the population at a point corresponding to the midpoint of its logistic curve\n"
        "(B) opt for zero population control once the K value of the curve has been reached\n"
        "(C) reduce the carrying capacity cif the environment to lower the K value\n"
        "(D) increase the mortality rate\n\n"
        'Format your response as follows: "The correct answer is (insert answer here)"'
    )
    with pytest.raises(ValueError, match="the olympiad-official prompt has no form for multiple-choice questions"):
        task.prompt(problem, kind="base", prompt="olympiad-official")


def test_gpqa_diamonds_official_prompt_is_its_authors_zero_shot_format():
    options = ["10^-4 eV", "10^-11 eV", "10^-8 eV", "10^-9 eV"]
    task = Task("gpqa-diamond", (Problem("r1", "Which energy difference?", "A", meta={"choices": options}),), "choice",
                official_prompt="gpqa-official")  # fmt: skip
    expected = (
        "What is the correct answer to this question: Which energy difference?\n\nChoices:\n"
        "(A) 10^-4 eV\n(B) 10^-11 eV\n(C) 10^-8 eV\n(D) 10^-9 eV\n\n"
        'Format your response as follows: "The correct answer is (insert answer here)"'
    )
    assert task.prompt(task.problems[0], kind="base", prompt="official") == expected
    assert task.prompt(task.problems[0], kind="reasoning", prompt="official", enable_thinking=False) == (
        f"<|im_start|>user\n{expected}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )


def test_a_preset_is_its_sources_whole_prompt_so_cot_is_refused():
    task, problem = first_problem("math500")
    with pytest.raises(ValueError, match="the r1 prompt is its source's whole prompt: not with --cot"):
        task.prompt(problem, kind="base", prompt="r1", cot=True)
