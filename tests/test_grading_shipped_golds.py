"""The shipped golds that need more LaTeX than plain maths (primes, dots, hbar, angles, square
brackets, commands in subscripts) and the defective ones the gold reader repairs: each is read by
the parser, never compared as a string, and a right answer written another way grades right
while a changed one grades wrong."""

from __future__ import annotations

import pytest
from conftest import SHARED

from reasoning.evaluation import golds
from reasoning.evaluation.benchmarks import BENCHMARKS, load_benchmark
from reasoning.evaluation.tasks import Task
from reasoning.grading import grade_many

DATA = SHARED / "data" / "benchmarks"
FILES = {
    "math500": SHARED / "data" / "math500_test.json", "aime24": DATA / "aime24.jsonl", "aime25": DATA / "aime25.jsonl",
    "amc23": DATA / "amc23.jsonl", "gsm8k": DATA / "gsm8k.jsonl", "minerva": DATA / "minerva_math.jsonl",
    "olympiadbench": DATA / "olympiadbench.jsonl",
}  # fmt: skip
needs_shared = pytest.mark.skipif(not all(f.is_file() for f in FILES.values()), reason=f"{DATA} is not present")

# (benchmark, id, what the gold writes, a right answer written otherwise, a wrong answer)
LATEX_GOLDS = [
    ("minerva", "62", r"y^{\prime}", r"y' = r x(t) - r y", r"y' = r y - r x(t)"),
    ("minerva", "89", r"x^{\prime}", r"x' + \frac{r x}{V} - rc = 0", r"x + \frac{r x}{V} - rc = 0"),
    (
        "minerva",
        "72",
        r"\dot{x}_{0}",
        r"x_0\cos(\omega t) + \frac{\dot{x_0}}{\omega}\sin(\omega t)",
        r"x_0\cos(\omega t) + \frac{x_0}{\omega}\sin(\omega t)",
    ),
    (
        "minerva",
        "132",
        r"\ddot{\theta}",
        r"ml\ddot\theta(t) = mg\sin\theta(t) + f(t)\cos\theta(t)",
        r"ml\dot\theta(t) = mg\sin\theta(t) + f(t)\cos\theta(t)",
    ),
    (
        "minerva",
        "261",
        r"\hbar",
        r"\hbar\omega\left(v+\frac{1}{2}\right) - \frac{E_0^2e^2}{2m\omega^2}",
        r"h\omega\left(v+\frac{1}{2}\right) - \frac{E_0^2e^2}{2m\omega^2}",
    ),
    (
        "minerva",
        "12",
        r"\left[",
        r"\frac{2\pi c^2R^2}{\lambda^5 d^2\left(e^{hc/(\lambda kT)}-1\right)}",
        r"\frac{2\pi c^2R^2}{\lambda^5 d^2\left(e^{hc/(\lambda kT)}+1\right)}",
    ),
    (
        "minerva",
        "28",
        r"\left[",
        r"\left(P_0^{2/5}-\frac{2gz}{5K^{3/5}}\right)^{5/2}",
        r"\left(P_0^{2/5}-\frac{2gz}{5K^{3/5}}\right)^{2/5}",
    ),
    (
        "minerva",
        "27",
        r"L_{\odot}",
        r"\frac{dM}{dt} = \frac{10^5 L_\odot M^6}{0.007c^2M_\odot^6}",
        r"\frac{dM}{dt} = \frac{10^5 L_\odot M^5}{0.007c^2M_\odot^6}",
    ),
    (
        "olympiadbench",
        "1760",
        r"\angle",
        r"\angle A_1EB = 90^\circ, \angle B_1EA = 90^\circ",
        r"\angle A_1EB = 90^\circ, \angle B_1EA = 45^\circ",
    ),
    ("olympiadbench", "1782", r"m_{\max }", r"m_{\max} = n^2-n-1", r"m_{\max} = n^2-n+1"),
]
# (benchmark, id, the gold as read, a right answer, a wrong answer)
DEFECTIVE = [
    ("olympiadbench", "2045", r"t \in (0,4]", r"(0, 4]", r"(0, 4)"),
    ("olympiadbench", "1970", r"(-\infty, 0) \cup\{1\}", r"(-\infty,0)\cup\{1\}", r"(-\infty,0]\cup\{1\}"),
    (
        "minerva",
        "72",
        r"x_{0} \cos (\omega t)+\dot{x}_{0} \sin (\omega t) / \omega",
        r"x_0\cos(\omega t)+\frac{\dot{x}_0}{\omega}\sin(\omega t)",
        r"x_0\cos(\omega t)+\dot{x}_0\sin(\omega t)",
    ),
    ("minerva", "5", r"\arcsin(10/13)", r"\sin^{-1}\left(\frac{10}{13}\right)", r"\arccos\left(\frac{10}{13}\right)"),
]


def _problems(name: str) -> dict[str, object]:
    return {str(p.id): p for p in load_benchmark(name, data=FILES[name]).problems}


def _grades(name: str, problem, answers: list[str]) -> list[bool]:
    task = Task(name, (), BENCHMARKS[name].kind)
    return [task.grade(problem, f"So the answer is $\\boxed{{{answer}}}$.").correct for answer in answers]


@needs_shared
@pytest.mark.parametrize("name, id, written, right, wrong", LATEX_GOLDS, ids=[f"{r[0]}-{r[1]}" for r in LATEX_GOLDS])
def test_a_gold_in_latex_commands_grades_a_respelt_answer_right_and_a_changed_one_wrong(name, id, written, right, wrong):
    problem = _problems(name)[id]
    assert written in problem.answer
    assert _grades(name, problem, [right, wrong]) == [True, False]


@needs_shared
@pytest.mark.parametrize("name, id, gold, right, wrong", DEFECTIVE, ids=[f"{r[0]}-{r[1]}" for r in DEFECTIVE])
def test_a_defective_shipped_gold_is_read_as_meant(name, id, gold, right, wrong):
    problem = _problems(name)[id]
    assert problem.answer == gold
    assert _grades(name, problem, [right, wrong]) == [True, False]


@needs_shared
def test_every_shipped_math_gold_is_read_by_the_parser_not_compared_as_a_string():
    """A wrong answer against each gold is refused for its value, never because the gold is unreadable."""
    pairs = [("-987654321", p.answer) for name in FILES for p in load_benchmark(name, data=FILES[name]).problems]
    unread = [(gold, g.reason) for (_, gold), g in zip(pairs, grade_many(pairs, processes=2), strict=True) if "not parseable" in g.reason]
    assert len(pairs) > 2800 and unread == []


@pytest.mark.parametrize(
    "read, value, gold",
    [
        (golds.joined_answers, ["$t(0,4]$"], r"t \in (0,4]"),
        (golds.joined_answers, [r"$(-\infty, 0) \cup\{1\}.$"], r"(-\infty, 0) \cup\{1\}"),
        (
            golds.last_box,
            r"so $x=\boxed{x_{0} \cos (\omega t)+$ $\dot{x}_{0} \sin (\omega t) / \omega}$.",
            r"x_{0} \cos (\omega t)+\dot{x}_{0} \sin (\omega t) / \omega",
        ),
        (golds.last_box, r"So the answer is $\boxed{np.arcsin(10/13)}$.", r"\arcsin(10/13)"),
        (golds.as_written, " np.arcsin(10/13) ", r"\arcsin(10/13)"),
        (golds.joined_answers, ["$(0,4]$"], "(0,4]"),
        (golds.joined_answers, ["$x.$"], "x."),  # only the known defects are repaired
    ],
)
def test_the_gold_readers_repair_the_known_defects_and_nothing_else(read, value, gold):
    assert read(value) == gold
