"""`eval budget`: every budget's records from one sweep, resumable, and the curve read back."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from reasoning.commands.eval import _budgets
from reasoning.evaluation.benchmarks import load_benchmarks
from reasoning.evaluation.budget import budget_curve, budget_name, evaluate_budgets, format_budget_curve, report_budget_curves
from reasoning.evaluation.protocols import get_protocol
from reasoning.evaluation.records import RecordsError
from reasoning.evaluation.rundir import read_task
from reasoning.evaluation.run import evaluate
from tests.scripted import SURE, scripted_model, tokenizer

FIXTURES = Path(__file__).parent / "data" / "benchmarks"
TOKENIZER = tokenizer()
THINK, END = TOKENIZER.think_start_id, TOKENIZER.think_end_id
[NEWLINE], [BLANK], [HMM] = TOKENIZER.encode("\n"), TOKENIZER.encode("\n\n"), TOKENIZER.encode(" hmm")
BOXED = TOKENIZER.encode("\\boxed{4}")
[EOS] = TOKENIZER.eos_token_ids

# After the chat prompt ("...assistant\n") it opens <think>, says "hmm" and closes by itself
# with probability ~0.18 per step; after </think> and a blank line it answers \boxed{4}.
SCRIPT = {
    NEWLINE: {THINK: SURE}, THINK: {HMM: SURE}, HMM: {HMM: SURE, END: SURE - 1.5}, END: {BLANK: SURE},
    BLANK: {BOXED[0]: SURE}, **{a: {b: SURE} for a, b in zip(BOXED, BOXED[1:])}, BOXED[-1]: {EOS: SURE},
}  # fmt: skip
MODEL = scripted_model(SCRIPT)


def run(out: Path, resume: bool = False, limit: int = 2) -> dict:
    tasks = load_benchmarks(["gsm8k"], data_dir=FIXTURES, limit=limit)
    protocol = get_protocol("qwen3").with_overrides(n=3, max_new_tokens=40)
    return evaluate_budgets(
        MODEL, TOKENIZER, tasks, protocol, [2, 4, 8], out, model_name="scripted", kind="reasoning", seed=1,
        batch_size=8, chunk=2, resume=resume, progress=False,
    )  # fmt: skip


def test_each_budget_is_recorded_and_the_curve_adds_up(tmp_path):
    summaries = run(tmp_path)
    assert sorted(summaries) == [budget_name("gsm8k", b) for b in (2, 4, 8)]
    for budget in (2, 4, 8):
        settings, records = read_task(tmp_path, budget_name("gsm8k", budget))
        assert settings["thinking_budget"] == budget and len(records) == 2
        samples = [s for r in records for s in r["samples"]]
        assert all(s["thinking_tokens"] <= budget for s in samples)
        assert all(s["text"].endswith("\\boxed{4}") for s in samples)  # every budget still answers
        assert any(s["forced_tokens"] for s in samples)
    curve = budget_curve(tmp_path, "gsm8k")
    assert [row["budget"] for row in curve["rows"]] == [2, 4, 8]
    assert [row["thinking_tokens"] for row in curve["rows"]] == sorted(row["thinking_tokens"] for row in curve["rows"])
    assert 0 < curve["sweep_decoded"] < curve["separate_decoded"]
    separate = sum(s["tokens"] for b in (2, 4, 8) for r in read_task(tmp_path, budget_name("gsm8k", b))[1] for s in r["samples"])
    assert curve["separate_decoded"] == separate
    table = format_budget_curve(curve)
    assert table.splitlines()[2].split()[0] == "2" and f"({separate / curve['sweep_decoded']:.2f}x)" in table


def test_a_resumed_sweep_equals_an_uninterrupted_one(tmp_path):
    whole = run(tmp_path / "whole")
    run(tmp_path / "part", limit=1)
    with pytest.raises(RecordsError, match="--resume"):
        run(tmp_path / "part")
    resumed = run(tmp_path / "part", resume=True)
    strip = lambda s: {k: v for k, v in s.items() if k != "seconds"}  # noqa: E731
    assert {k: strip(v) for k, v in resumed.items()} == {k: strip(v) for k, v in whole.items()}
    for budget in (2, 4, 8):
        texts = lambda d: [[s["text"] for s in r["samples"]] for r in read_task(d, budget_name("gsm8k", budget))[1]]  # noqa: E731
        assert texts(tmp_path / "part") == texts(tmp_path / "whole")


def test_budgets_flag():
    assert _budgets("512,256, 256,1024") == [256, 512, 1024]
    for bad in ("", "a,2", "-1,4"):
        with pytest.raises(argparse.ArgumentTypeError):
            _budgets(bad)


def test_eval_run_records_a_thinking_budget_and_each_samples_token_split(tmp_path):
    tasks = load_benchmarks(["gsm8k"], data_dir=FIXTURES, limit=2)
    protocol = get_protocol("qwen3").with_overrides(n=2, max_new_tokens=40)
    evaluate(
        MODEL, TOKENIZER, tasks, tmp_path, model_name="scripted", protocol=protocol, kind="reasoning", seed=1, batch_size=4,
        thinking={"thinking_budget": 3}, progress=False,
    )  # fmt: skip
    settings, records = read_task(tmp_path, "gsm8k")
    assert settings["thinking_budget"] == 3 and settings["min_thinking"] == 0
    samples = [s for r in records for s in r["samples"]]
    assert all(s["thinking_tokens"] <= 3 and s["text"].endswith("\\boxed{4}") for s in samples)
    assert all(s["tokens"] == s["thinking_tokens"] + s["forced_tokens"] + s["answer_tokens"] + 1 for s in samples)  # + <think>


def test_the_report_holds_every_benchmark_table_and_draws_the_curve(tmp_path):
    run(tmp_path)
    plot = tmp_path / "curve.png"
    report = report_budget_curves(tmp_path, ["gsm8k"], plot=plot)
    assert report.startswith(format_budget_curve(budget_curve(tmp_path, "gsm8k"))) and report.endswith(f"plot: {plot}")
    assert plot.stat().st_size > 1000


def test_eval_score_reads_a_budget_directory_and_each_of_its_files(tmp_path, capsys):
    from reasoning.cli import main

    run(tmp_path)
    assert main(["eval", "score", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert all(f"gsm8k@{budget}" in table for budget in (2, 4, 8))
    assert main(["eval", "score", str(tmp_path / "gsm8k@4.jsonl")]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("gsm8k")]
    assert rows[0][:3] == ["gsm8k@4", "2", "3"] and {row[0] for row in rows} == {"gsm8k@4"}  # its problems and samples
