"""The evaluation runner: records, resume after a crash, settings checks, summaries, regrading; the strategies."""

from __future__ import annotations

import json

import pytest

from reasoning.data import Problem
from reasoning.evaluation.records import RecordsError, read_records, read_run, write_records
from reasoning.evaluation.report import format_summary, method_label, summarize
from reasoning.evaluation.runner import Completion, evaluate, regrade
from reasoning.evaluation.strategies import (
    STRATEGIES,
    BestOfN,
    ChainOfThought,
    Greedy,
    Sample,
    SelfConsistency,
    SelfRefine,
    parse_strategy,
    strategy_from_settings,
)

PROBLEMS = [
    Problem(id=f"p{i}", question=f"What is {i} + {i}?", answer=str(2 * i), subject=subject, level=level)
    for i, (subject, level) in enumerate([("Algebra", 1), ("Algebra", 2), ("Geometry", 2), ("Geometry", 3), ("Algebra", 3)])
]
PROMPTS = [f"Q: {p.question}" for p in PROBLEMS]


def answers_right_except(wrong: set[int], crash_after: int | None = None):
    """A fake generator: answers each prompt (boxed), wrongly for `wrong`, finishing in reverse order."""
    calls = []

    def complete(items):
        prompts = [text for _, text in items]
        calls.append(prompts)
        for count, index in enumerate(reversed(range(len(prompts)))):
            if crash_after is not None and count == crash_after:
                raise KeyboardInterrupt  # the run dies mid-way
            number = int(prompts[index].split()[3])
            answer = 2 * number + (1 if number in wrong else 0)
            yield index, Completion(f"So the sum is \\boxed{{{answer}}}.", tokens=10 + number, seconds=0.5)

    complete.calls = calls
    return complete


def test_records_are_written_one_per_problem_with_the_grade(tmp_path):
    out = tmp_path / "run.jsonl"
    records = evaluate(PROBLEMS, PROMPTS, answers_right_except({1}), out, settings={"model": "m"}, progress=False)
    assert [r["id"] for r in records] == [p.id for p in PROBLEMS]  # returned in problem order
    assert [r["correct"] for r in records] == [True, False, True, True, True]
    saved = read_records(out)
    assert [r["id"] for r in saved] == ["p4", "p3", "p2", "p1", "p0"]  # written as they finished
    first = saved[-1]
    assert first["extracted"] == "0" and first["gold"] == "0" and first["tokens"] == 10
    assert set(first) >= {"id", "subject", "level", "prompt", "completion", "extracted", "gold", "correct", "tokens", "seconds"}
    assert json.loads(out.read_text().splitlines()[0]) == {"settings": {"model": "m"}}  # the header
    assert read_run(out)[0] == {"model": "m"}


def test_resume_after_a_crash_finishes_without_redoing_or_duplicating(tmp_path):
    out = tmp_path / "run.jsonl"
    with pytest.raises(KeyboardInterrupt):
        evaluate(PROBLEMS, PROMPTS, answers_right_except(set(), crash_after=2), out, progress=False)
    assert len(read_records(out)) == 2
    with open(out, "a") as handle:
        handle.write('{"id": "p1", "corr')  # a line torn by the crash
    resumed = answers_right_except(set())
    records = evaluate(PROBLEMS, PROMPTS, resumed, out, resume=True, progress=False)
    assert resumed.calls == [PROMPTS[:3]]  # only the three unfinished problems were generated
    saved = read_records(out)
    assert sorted(r["id"] for r in saved) == sorted(p.id for p in PROBLEMS)
    assert len(records) == 5 and all(r["correct"] for r in records)


def test_existing_results_are_not_overwritten_without_resume(tmp_path):
    out = tmp_path / "run.jsonl"
    evaluate(PROBLEMS[:1], PROMPTS[:1], answers_right_except(set()), out, progress=False)
    with pytest.raises(RecordsError, match="already holds results: pass --resume"):
        evaluate(PROBLEMS, PROMPTS, answers_right_except(set()), out, progress=False)


def test_resume_with_other_settings_is_refused(tmp_path):
    out = tmp_path / "run.jsonl"
    evaluate(PROBLEMS[:2], PROMPTS[:2], answers_right_except(set()), out, settings={"model": "a", "seed": 1}, progress=False)
    with pytest.raises(RecordsError, match="settings differ from the saved run in model"):
        evaluate(PROBLEMS, PROMPTS, answers_right_except(set()), out, settings={"model": "b", "seed": 1}, resume=True, progress=False)


def test_resume_refuses_a_file_whose_settings_cannot_be_read(tmp_path):
    out = tmp_path / "run.jsonl"
    evaluate(PROBLEMS[:2], PROMPTS[:2], answers_right_except(set()), out, settings={"temperature": 0.0}, progress=False)
    headless = out.read_text().splitlines(keepends=True)[1:]  # the settings line lost
    out.write_text("".join(headless))
    with pytest.raises(RecordsError, match="first line holds no run settings"):
        evaluate(PROBLEMS, PROMPTS, answers_right_except(set()), out, settings={"temperature": 0.7}, resume=True, progress=False)
    assert out.read_text() == "".join(headless)  # nothing appended under other settings


def test_resume_keeps_one_header_and_the_settings_survive_rewriting(tmp_path):
    out = tmp_path / "run.jsonl"
    with pytest.raises(KeyboardInterrupt):
        evaluate(PROBLEMS, PROMPTS, answers_right_except(set(), crash_after=2), out, settings={"seed": 3}, progress=False)
    evaluate(PROBLEMS, PROMPTS, answers_right_except(set()), out, settings={"seed": 3}, resume=True, progress=False)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0] == {"settings": {"seed": 3}} and all("id" in line for line in lines[1:]) and len(lines) == 6
    settings, records = read_run(out)
    write_records(out, regrade(records), settings)  # what `eval score --write` does
    assert read_run(out) == (settings, regrade(records))
    with pytest.raises(RecordsError, match="settings differ from the saved run in seed"):
        evaluate(PROBLEMS, PROMPTS, answers_right_except(set()), out, settings={"seed": 4}, resume=True, progress=False)


def test_nothing_to_evaluate_is_an_error_and_writes_no_file(tmp_path):
    out = tmp_path / "run.jsonl"
    with pytest.raises(ValueError, match="nothing to evaluate"):
        evaluate([], [], answers_right_except(set()), out, progress=False)
    assert not out.exists()


def test_a_malformed_line_in_the_middle_names_the_line(tmp_path):
    out = tmp_path / "bad.jsonl"
    out.write_text('{"id": "a", "correct": true}\nnot json\n{"id": "b", "correct": false}\n')
    with pytest.raises(RecordsError, match=r"bad.jsonl, line 2"):
        read_records(out, repair=True)


def test_summary_by_subject_and_level(tmp_path):
    records = evaluate(PROBLEMS, PROMPTS, answers_right_except({1, 3}), tmp_path / "r.jsonl", progress=False)
    summary = summarize(records)
    assert (summary.overall.correct, summary.overall.total) == (3, 5)
    assert summary.by_subject["Algebra"].accuracy == pytest.approx(2 / 3)
    assert summary.by_subject["Geometry"].accuracy == pytest.approx(1 / 2)
    assert {level: t.correct for level, t in summary.by_level.items()} == {"1": 1, "2": 1, "3": 1}
    assert summary.tokens_per_problem == pytest.approx(12.0)
    text = format_summary(summary)
    assert "accuracy 60.0% (3/5)" in text and "Geometry" in text


def test_regrade_recomputes_correctness_from_the_saved_completion(tmp_path):
    records = evaluate(PROBLEMS, PROMPTS, answers_right_except(set()), tmp_path / "r.jsonl", progress=False)
    tampered = [{**r, "correct": False, "gold": "\\frac{2}{1}" if r["gold"] == "2" else r["gold"]} for r in records]
    regraded = regrade(tampered)
    assert all(r["correct"] for r in regraded)  # 2 and \frac{2}{1} are the same answer
    assert regraded[1]["gold"] == "\\frac{2}{1}"


STRATEGY_TABLE = [  # strategy, label, slug, settings header
    (Greedy(), "greedy", "greedy", {"strategy": "greedy"}),
    (ChainOfThought(), "cot", "cot", {"strategy": "cot"}),
    (Sample(), "sample", "sample", {"strategy": "sample"}),
    (SelfConsistency(n=8), "self-consistency n=8", "self-consistency-n8",
     {"strategy": "self-consistency", "n": 8, "tie_break": "first", "early_stop": False}),
    (BestOfN(n=4, scorer="logprob"), "best-of-4 logprob", "best-of-4-logprob", {"strategy": "best-of-n", "n": 4, "scorer": "logprob"}),
    (SelfRefine(rounds=2, scorer="heuristic"), "self-refine rounds=2 heuristic", "self-refine-rounds2-heuristic",
     {"strategy": "self-refine", "scorer": "heuristic", "rounds": 2}),
]  # fmt: skip


@pytest.mark.parametrize(("strategy", "label", "slug", "settings"), STRATEGY_TABLE)
def test_each_strategy_has_its_label_slug_and_settings_and_reads_back_from_them(strategy, label, slug, settings):
    assert (strategy.label, strategy.slug, strategy.settings()) == (label, slug, settings)
    header = {"model": "m", "cot": False, "temperature": 0.8, **settings}  # as a results file saves it
    assert strategy_from_settings(header) == strategy
    assert STRATEGIES[strategy.name] is type(strategy)


def test_parse_strategy_takes_the_options_a_strategy_has_and_ignores_the_rest():
    flags = {"n": 6, "rounds": 3, "scorer": "judge", "tie_break": "logprob", "early_stop": True}  # every CLI flag
    assert parse_strategy("greedy", **flags) == Greedy()
    assert parse_strategy("self-consistency", **flags) == SelfConsistency(n=6, tie_break="logprob", early_stop=True)
    assert parse_strategy("best-of-n", **flags) == BestOfN(n=6, scorer="judge")
    assert parse_strategy("self-refine", **flags) == SelfRefine(rounds=3, scorer="judge")
    with pytest.raises(ValueError, match="unknown strategy 'beam'"):
        parse_strategy("beam")


@pytest.mark.parametrize(
    ("make", "message"),
    [(lambda: SelfConsistency(n=0), "n >= 1"), (lambda: SelfConsistency(tie_break="last"), "tie_break"),
     (lambda: BestOfN(scorer="length"), "unknown scorer"), (lambda: SelfRefine(rounds=-1), "rounds >= 0")],
)  # fmt: skip
def test_bad_strategy_options_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_method_label_adds_cot_and_temperature_where_they_apply():
    assert method_label({"strategy": "greedy", "cot": True, "temperature": 0.0}, "f") == "greedy +cot"
    assert method_label({"strategy": "cot", "cot": True, "temperature": 0.0}, "f") == "cot"
    assert method_label({"strategy": "best-of-n", "n": 4, "scorer": "heuristic", "temperature": 0.8}, "f") == "best-of-4 heuristic T=0.8"
    assert method_label({"model": "m"}, "fallback") == "fallback"  # a header written before strategies
