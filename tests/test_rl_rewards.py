"""Rewards: the task's correctness (the evaluation's grade), format checks, weighted custom functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from reasoning.data import Problem
from reasoning.evaluation.benchmarks import load_benchmark
from reasoning.evaluation.tasks import Task
from reasoning.rl.rewards import Reward, boxed_answer, boxed_format_reward, default_rewards, score, think_format_reward

HALF = Problem(id="p", question="What is 1/2?", answer="\\frac{1}{2}")
TASK = Task("half", (HALF,))
BENCHMARKS = Path(__file__).parent / "data" / "benchmarks"


def correctness(completion: str, problem: Problem = HALF, task: Task = TASK) -> float:
    """The default correctness reward of `task` on one completion."""
    [correct] = [reward for reward in default_rewards(task) if reward.name == "correct"]
    return correct.fn(completion, problem)


def test_correctness_is_the_tasks_grade_by_equivalence():
    assert correctness("so it is \\boxed{0.5}") == 1.0  # equivalence, not string equality
    assert correctness("\\boxed{1/3}") == 0.0
    # What the evaluation counts right, the reward counts right: a stated answer too; only the
    # format reward asks for a complete box.
    assert correctness("The answer is 1/2.") == 1.0 and boxed_format_reward("The answer is 1/2.", HALF) == 0.0
    assert boxed_format_reward("\\boxed{1/2", HALF) == 0.0  # unclosed box
    for completion in ("so it is \\boxed{0.5}", "\\boxed{1/3}", "The answer is 1/2.", "\\boxed{1/2", "no answer"):
        assert correctness(completion) == float(TASK.grade(HALF, completion).correct), completion


def test_a_multiple_choice_reward_reads_the_chosen_letter():
    task = load_benchmark("mmlu-stem", data_dir=BENCHMARKS)
    problem = task.problems[0]
    wrong = next(letter for letter in "ABCD" if letter != problem.answer)
    assert correctness(f"Answer: {problem.answer}", problem, task) == 1.0
    assert correctness(f"Answer: {wrong}", problem, task) == 0.0
    assert correctness(f"\\boxed{{{problem.answer}}}", problem, task) == float(task.grade(problem, f"\\boxed{{{problem.answer}}}").correct)


def test_gsm8k_golds_and_olympiad_answer_lists_are_read_as_eval_reads_them():
    gsm8k = load_benchmark("gsm8k", data_dir=BENCHMARKS)
    janet = gsm8k.problems[0]  # gold "#### 18" after the worked solution
    assert correctness("She makes \\boxed{18} dollars", janet, gsm8k) == 1.0
    assert correctness("\\boxed{9}", janet, gsm8k) == 0.0
    olympiad = load_benchmark("olympiadbench", data_dir=BENCHMARKS)
    for problem in olympiad.problems:  # a gold stored as a list of answers
        assert correctness(f"\\boxed{{{problem.answer}}}", problem, olympiad) == 1.0, problem.answer


def test_boxed_answer_takes_the_last_box_after_think():
    assert boxed_answer("<think>maybe \\boxed{3}</think> \\boxed{4}") == "4"
    assert boxed_answer("no box here: 5") is None


def test_format_rewards():
    assert boxed_format_reward("x \\boxed{7}", HALF) == 1.0 and boxed_format_reward("7", HALF) == 0.0
    assert think_format_reward("<think>add them</think> so \\boxed{7}", HALF) == 1.0
    assert think_format_reward("<think></think> \\boxed{7}", HALF) == 0.0  # empty thought
    assert think_format_reward("\\boxed{7}", HALF) == 0.0


def test_hostile_completion_is_graded_not_run():
    assert correctness("\\boxed{__import__('os').system('echo hacked')}") == 0.0
    assert correctness("\\boxed{" + "9" * 5000 + "}") == 0.0


def test_score_adds_weighted_rewards_including_custom_ones():
    def brevity(completion: str, problem: Problem) -> float:
        return -len(completion) / 100

    rewards = [*default_rewards(TASK, correctness_weight=1.0, format_weight=0.5), Reward("brevity", brevity, 2.0)]
    totals, parts = score(["\\boxed{1/2}", "no answer"], [HALF, HALF], rewards)
    assert parts == {"correct": [1.0, 0.0], "format": [1.0, 0.0], "brevity": [-0.11, -0.09]}
    assert totals == pytest.approx([1.0 + 0.5 - 0.22, -0.18])


def test_score_names_a_failing_or_non_finite_reward():
    def broken(completion: str, problem: Problem) -> float:
        raise KeyError("field")

    with pytest.raises(ValueError, match="reward 'broken' failed on problem 'p'"):
        score(["x"], [HALF], [Reward("broken", broken)])
    with pytest.raises(ValueError, match="must be finite"):
        score(["x"], [HALF], [Reward("nan", lambda c, p: float("nan"))])
    with pytest.raises(ValueError, match="1 completions but 2 problems"):
        score(["x"], [HALF, HALF], default_rewards(TASK))
