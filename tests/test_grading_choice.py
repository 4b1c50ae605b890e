"""Reading the option a completion chose in a multiple-choice question."""

import re
import time

import pytest
from grading_cases import degenerate

from reasoning.grading import choice, extract_choice

CHOICES = [
    # boxed, the most explicit
    (r"so the answer is \boxed{C}", "C"),
    (r"\boxed{\text{C}}", "C"),
    (r"\boxed{\textbf{(C)}}", "C"),
    (r"\boxed{(C)}", "C"),
    (r"\boxed{C. 12 m/s}", "C"),
    (r"\boxed{(C) 12 m/s}", "C"),
    (r"\boxed{C) 12 m/s}", "C"),
    (r"$\boxed{D}$.", "D"),
    (r"\fbox{B}", "B"),
    # stated
    ("Answer: C", "C"),
    ("**Answer:** (C)", "C"),
    ("**Answer: C**", "C"),
    ("Final Answer: B", "B"),
    ("Thus the answer is C.", "C"),
    ("The answer is: B, since 2 < 3.", "B"),
    ("the correct option is (C)", "C"),
    ("the correct choice is C.", "C"),
    ("The answer is option D.", "D"),
    (r"Answer: $\text{(B)}$", "B"),
    ("The answer is A because the rate doubles.", "A"),  # after "is", a capital A is the letter
    ("Answer: A", "A"),
    ("Answer: A.", "A"),
    # the JSON field the Qwen3 model card asks for: Please show your choice in the `answer` field
    # with only the choice letter, e.g., `"answer": "C"` (huggingface.co/Qwen/Qwen3-8B, best practices)
    ('{"answer": "C"}', "C"),
    ('```json\n{\n  "reasoning": "the rate doubles",\n  "answer": "B"\n}\n```', "B"),
    ("{'answer': 'D'}", "D"),
    ('"Answer" : "(A)"', "A"),
    ('Answer: B, or in JSON:\n{"answer": "C"}', "C"),  # the last statement wins, in either form
    ('<think>the format is "answer": "C"</think>\n{"answer": "D"}', "D"),
    ('{"answer": "E"}', None),
    ('{"answer": "Cat"}', None),
    ('{"answer": "A good idea"}', None),
    ('{"answer" "C"}', None),
    # a final line that is only a letter, then the last "(C)"
    ("The rate doubles, so\n\nC", "C"),
    ("The rate doubles, so\n(C)\n", "C"),
    ("The rate doubles, so\nC.", "C"),
    ("The rate doubles, so\n**B**", "B"),
    ("(A) is too small and (B) too large, so (C) it is.", "C"),
    # the last explicit statement wins
    ("Answer: B. Wait, I misread the units. Answer: D", "D"),
    (r"\boxed{B} ... on reflection the answer is C", "C"),
    (r"The answer is C, as written: \boxed{D}", "D"),
    (r"Answer: B" + "\n(A) is wrong.", "B"),  # a stated letter beats a later "(A)"
    ("Answer: C\nD", "C"),  # and beats a final line
    # a think block: what follows it first, then the whole completion
    ("<think>Answer: B</think>\n\nAnswer: D", "D"),
    ("<think>maybe (A)... no, Answer: B</think>\n\nI am not sure.", "B"),
    # never a letter inside a word, an article, a function's argument or a letter outside the options
    ("Cat", None),
    ("Answer: Cat", None),
    ("Answer: BCD", None),
    (r"\boxed{BCD}", None),
    (r"\boxed{A + B}", None),
    ("A good idea would be to measure it.", None),
    ("Answer: A good idea would be to measure it.", None),
    ("The answer is a matter of scale.", None),
    ("Answer: I think the rate doubles.", None),
    ("P(A) = 1/2 and f(B) = 3", None),
    ("Answer: E", None),
    (r"\boxed{E}", None),
    ("(E)", None),
    ("E", None),
    ("Answer: c", None),
    ("The answer is 42.", None),
    ("", None),
]


@pytest.mark.parametrize("completion, expected", CHOICES)
def test_extract_choice(completion, expected):
    assert extract_choice(completion) == expected


def test_the_table_covers_forty_cases():
    assert len(CHOICES) >= 40


def test_a_letter_outside_the_options_is_skipped_for_an_earlier_statement():
    assert extract_choice("Answer: B. Hmm, or Answer: E") == "B"


def test_letters_follow_the_options_given():
    assert extract_choice("Answer: E", letters="ABCDE") == "E"
    assert extract_choice("Answer: D", letters="ABC") is None
    assert extract_choice(r"\boxed{J}", letters="ABCDEFGHIJ") == "J"


# The cases the brief names, and a run of every form the reader scans for.
HOSTILE = [
    ("answers", "answer " * 200_000),
    ("open parentheses", "(" * 1_000_000),
    ("open boxes", "\\boxed{" * 100_000),
    ("capital A", "A" * 1_000_000),
    ("blanks after Answer:", "Answer: " + " " * 1_000_000),
    ("stated letters", "Answer: C " * 100_000),
    ("parenthesized letters", "(C)" * 330_000),
    ("nested boxes", "\\boxed{" * 70_000 + "C" + "}" * 70_000),
    ("bare boxes", "\\boxed" * 160_000),
    ("boxed letters", "\\boxed{C}" * 110_000),
    ("options and blanks", "option" + " " * 1_000_000 + "x"),
    ("bold after answer", "Answer" + "**" * 500_000),
    ("a think block", "</think>" * 125_000),
    ("a long last line", "x\n" + "C " * 500_000),
    ("JSON answers", '"answer": ' * 100_000),
    ("blanks after a JSON key", '{"answer"' + " " * 1_000_000),
    ("quotes after answer", "answer" + '"' * 1_000_000),
]


HOSTILE += degenerate(1_000_000)  # the extraction tests' cases too


@pytest.mark.parametrize("name, text", HOSTILE, ids=[name for name, _ in HOSTILE])
def test_a_megabyte_of_hostile_text_is_read_in_linear_time(name, text):
    start = time.perf_counter()
    extract_choice(text)
    # About 0.2 s at most here; a quadratic pattern takes hours, so a bound this loose never flakes on a busy machine.
    assert time.perf_counter() - start < 10.0


PATTERNS = [(name, value) for name, value in vars(choice).items() if isinstance(value, re.Pattern)]


@pytest.mark.parametrize("name, pattern", PATTERNS, ids=[name for name, _ in PATTERNS])
def test_no_pattern_backtracks_over_a_run(name, pattern):
    """Each pattern searched in head + run * n: a quantifier that backtracks over the run takes n^2."""
    slowest = 0.0
    for head in ("", "answer", "Answer:", "option", "(", "\\boxed{", '"answer"', '"answer":'):
        for unit in (" ", "\t", "\n", "*", "**", ":", "(", "A", "a", "{", "}", "$", "\\", "(A", " A", '"', "'", '" '):
            text = head + unit * (50_000 // len(unit)) + "x"
            start = time.perf_counter()
            for _ in pattern.finditer(text):
                pass
            pattern.fullmatch(text)
            slowest = max(slowest, time.perf_counter() - start)
    assert slowest < 1.0, slowest  # linear: a few ms here; n^2 over 50,000 characters: a minute or more
