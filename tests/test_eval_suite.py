"""The benchmark suite's records, background grading, resume, shares and summaries, on scripted
samples (no model): every figure of the summary checked against numbers worked by hand."""

from __future__ import annotations

import threading
import time

import pytest

from reasoning.data import Problem
from reasoning.evaluation import suite
from reasoning.evaluation.benchmarks import BENCHMARKS
from reasoning.evaluation.protocols import PROTOCOLS, get_protocol
from reasoning.evaluation.records import RecordsError
from reasoning.evaluation.suite import Sample, Share, answer_groups, read_benchmark, run_benchmark, write_summary
from reasoning.evaluation.summary import compare_records, format_comparison, format_summaries, summarize_benchmark

MATH = BENCHMARKS["gsm8k"]
CHOICE = BENCHMARKS["mmlu-stem"]


def record(correct, groups, *, tokens=None, finish=None, extracted="x", subject=None, level=None, id="p"):
    n = len(correct)
    return {
        "id": id, "index": 0, "subject": subject, "level": level, "groups": groups, "seconds": 1.5,
        "samples": [
            {"correct": c, "extracted": None if g is None else extracted, "tokens": (tokens or [10] * n)[k],
             "finish_reason": (finish or ["eos"] * n)[k]}
            for k, (c, g) in enumerate(zip(correct, groups))
        ],
    }  # fmt: skip


def test_summary_figures_by_hand():
    records = [
        # 4 samples: 2 right (group 0), 1 wrong (group 1), no answer; maj@2: 0 vs 1 tie -> first (right)
        record([True, False, True, False], [0, 1, 0, None], tokens=[10, 20, 30, 40], finish=["eos", "length", "eos", "eos"],
               subject="algebra", level=1, id="a"),
        # all wrong, one group
        record([False] * 4, [0, 0, 0, 0], subject="algebra", level=2, id="b"),
        # one right of 4; the wrong ones agree: maj@4 wrong, maj@2 wrong (sample 0 wrong, 1 right: tie -> first)
        record([False, True, False, False], [0, 1, 0, 0], subject="geometry", level=10, id="c"),
    ]  # fmt: skip
    s = summarize_benchmark(records)
    assert s["problems"] == 3 and s["samples"] == 4
    rates = [0.5, 0.0, 0.25]
    assert s["pass@1"] == pytest.approx(0.25)
    mean = 0.25
    stderr = (sum((r - mean) ** 2 for r in rates) / 2) ** 0.5 / 3**0.5
    assert s["pass@1_stderr"] == pytest.approx(stderr)
    # pass@2: 1 - C(n-c,2)/C(4,2): c=2 -> 1 - 1/6; c=0 -> 0; c=1 -> 1 - 3/6
    assert s["pass@2"] == pytest.approx(((1 - 1 / 6) + 0 + 0.5) / 3)
    assert s["pass@4"] == pytest.approx((1 + 0 + 1) / 3)
    assert s["maj@2"] == pytest.approx((1 + 0 + 0) / 3)
    assert s["maj@4"] == pytest.approx((1 + 0 + 0) / 3)
    assert s["mean_tokens"] == pytest.approx((100 + 40 + 40) / 12)
    assert s["truncated"] == pytest.approx(1 / 12) and s["no_answer"] == pytest.approx(1 / 12)
    assert s["seconds"] == pytest.approx(4.5)
    assert s["by_subject"]["algebra"]["pass@1"] == pytest.approx(0.25) and s["by_subject"]["algebra"]["problems"] == 2
    assert s["by_subject"]["geometry"]["maj@4"] == 0.0
    assert list(s["by_level"]) == ["1", "2", "10"]  # levels in numeric order
    table = format_summaries({"gsm8k": s}).splitlines()
    assert table[0].split() == ["benchmark", "problems", "n", "pass@1", "pass@2", "pass@4", "maj@2", "maj@4", "tokens", "truncated", "time"]
    # pass@1 25.0 ± 14.4 (stderr 0.25 / sqrt 3), pass@2 44.4, pass@4 66.7, maj 33.3, 15 tokens, 1 of 12 truncated
    assert table[1].split() == ["gsm8k", "3", "4", "25.0%", "±", "14.4", "44.4%", "66.7%", "33.3%", "33.3%", "15", "8.3%", "4.5", "s"]
    by_subject = table[table.index("gsm8k by subject") + 1 :][:2]
    assert [line.split() for line in by_subject] == [["algebra", "2", "25.0%", "±", "25.0"], ["geometry", "1", "25.0%", "±", "0.0"]]


def test_one_sample_reports_pass1_only():
    s = summarize_benchmark([record([True], [0], id="a"), record([False], [0], id="b")])
    assert s["pass@1"] == 0.5 and not any(key.startswith(("pass@2", "maj@")) for key in s)


def test_math_answers_group_by_equivalence_and_letters_by_equality():
    assert answer_groups(MATH, ["1/2", "0.5", "\\frac{1}{2}", "3", None, "3.0"]) == [0, 0, 0, 1, None, 1]
    assert answer_groups(CHOICE, ["B", "C", "B", None]) == [0, 1, 0, None]


def problems(count=6):
    return [Problem(id=f"q{i}", question=f"What is {i} + {i}?", answer=str(2 * i), subject="arith", level=i % 2) for i in range(count)]


def scripted(n=3, fail_after=None, log=None):
    """Samples that depend only on the problem's index (as seeded streams do): sample k of
    problem i answers 2i when k <= i % n, else 2i + 1."""

    def generate(items):
        for position, (index, _) in enumerate(items):
            if fail_after is not None and position == fail_after:
                raise KeyboardInterrupt
            samples = [Sample(f"so \\boxed{{{2 * index + (k > index % n)}}}", 5 + k, "eos") for k in range(n)]
            if log is not None:
                log.append(("generated", index, time.perf_counter()))
            yield position, samples, 0.25

    return generate


def run(out_dir, generate, resume=False, share=Share(), settings=None, items=None):
    items = items or problems()
    return run_benchmark(
        MATH, items, [p.question for p in items], generate, out_dir, settings=settings or {"n": 3}, resume=resume,
        share=share, progress=False,
    )  # fmt: skip


def test_records_hold_every_sample_graded(tmp_path):
    records = run(tmp_path, scripted())
    assert [r["id"] for r in records] == [f"q{i}" for i in range(6)]
    first = records[1]  # index 1: samples 0 and 1 right, sample 2 wrong
    assert [s["correct"] for s in first["samples"]] == [True, True, False] and first["correct"] == 2
    assert [s["extracted"] for s in first["samples"]] == ["2", "2", "3"] and first["groups"] == [0, 0, 1]
    assert first["gold"] == "2" and first["question"] == "What is 1 + 1?" and first["subject"] == "arith"
    assert all(s["finish_reason"] == "eos" and s["tokens"] in (5, 6, 7) and s["grade"]["method"] for s in first["samples"])
    settings, saved = read_benchmark(tmp_path, "gsm8k")
    assert settings == {"benchmark": "gsm8k", "n": 3} and saved == records


def test_an_interrupted_run_resumes_without_loss_or_duplicates(tmp_path):
    whole = run(tmp_path / "whole", scripted())
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "cut", scripted(fail_after=4))
    assert len(read_benchmark(tmp_path / "cut", "gsm8k")[1]) == 4  # every problem generated before the crash
    with pytest.raises(RecordsError, match="--resume"):
        run(tmp_path / "cut", scripted())
    with pytest.raises(RecordsError, match="settings differ"):
        run(tmp_path / "cut", scripted(), resume=True, settings={"n": 4})
    resumed = run(tmp_path / "cut", scripted(), resume=True)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in resumed]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in whole]
    assert summarize_benchmark(resumed)["pass@1"] == summarize_benchmark(whole)["pass@1"]


def test_a_slow_grade_does_not_hold_up_generation(tmp_path, monkeypatch):
    """The first problem's grade takes 1.5 s; all other problems are generated (and graded)
    meanwhile, instead of waiting behind it."""
    log = []
    real = suite.grade_completion

    def slow_first(benchmark, problem, completion, *, timeout):
        if problem.id == "q0":
            time.sleep(1.5)
            log.append(("slow grade done", 0, time.perf_counter()))
        return real(benchmark, problem, completion, timeout=timeout)

    monkeypatch.setattr(suite, "grade_completion", slow_first)
    records = run(tmp_path, scripted(log=log))
    slow_done = next(t for what, _, t in log if what == "slow grade done")
    generated = [t for what, _, t in log if what == "generated"]
    assert len(generated) == 6 and max(generated) < slow_done
    assert len(records) == 6 and threading.active_count() < 50


def test_ranks_take_disjoint_shares_and_merge_to_the_whole(tmp_path):
    whole = run(tmp_path / "one", scripted())
    for rank in (0, 1):
        run(tmp_path / "two", scripted(), share=Share(rank, 2))
    files = sorted(path.name for path in (tmp_path / "two").iterdir())
    assert files == ["gsm8k.rank0.jsonl", "gsm8k.rank1.jsonl"]
    _, merged = read_benchmark(tmp_path / "two", "gsm8k")
    assert [r["id"] for r in merged] == [r["id"] for r in whole]
    assert [r["samples"] for r in merged] == [r["samples"] for r in whole]
    one, two = write_summary(tmp_path / "one"), write_summary(tmp_path / "two")
    assert {k: v for k, v in one["gsm8k"].items() if k != "seconds"} == {k: v for k, v in two["gsm8k"].items() if k != "seconds"}
    assert (tmp_path / "two" / "summary.json").is_file()


def test_a_problem_in_two_rank_files_is_an_error(tmp_path):
    run(tmp_path, scripted(), share=Share(0, 2))
    (tmp_path / "gsm8k.rank1.jsonl").write_text((tmp_path / "gsm8k.rank0.jsonl").read_text())
    with pytest.raises(RecordsError, match="also in"):
        read_benchmark(tmp_path, "gsm8k")


def test_paired_comparison_of_two_runs(tmp_path):
    better = run(tmp_path / "a", scripted(n=3))
    worse = [{**r, "samples": [{**s, "correct": False} for s in r["samples"]]} for r in better]
    diff = compare_records(better, worse)
    assert diff.problems == 6 and diff.mean == pytest.approx(summarize_benchmark(better)["pass@1"])
    assert diff.significant and diff.boot_low > 0
    same = compare_records(better, better)
    assert same.mean == 0 and not same.significant
    rows = format_comparison(("runs/a", "runs/b"), {"gsm8k": (0.5, 0.0, diff)}).splitlines()
    [row] = [line for line in rows if line.startswith("gsm8k")]
    interval = f"[{100 * diff.boot_low:+.1f}, {100 * diff.boot_high:+.1f}]"
    assert row.split() == ["gsm8k", "6", "50.0%", "0.0%", f"{100 * diff.mean:+.1f}", f"{100 * diff.stderr:.1f}", *interval.split(), "yes"]
    assert rows[0] == "A = runs/a" and rows[1] == "B = runs/b"


def test_protocol_presets_and_overrides():
    assert PROTOCOLS["greedy"].n == 1 and PROTOCOLS["greedy"].temperature == 0
    r1, qwen3 = get_protocol("r1"), get_protocol("qwen3")
    assert (r1.temperature, r1.top_p, r1.top_k) == (0.6, 0.95, 0) and (qwen3.temperature, qwen3.top_p, qwen3.top_k) == (0.6, 0.95, 20)
    assert qwen3.with_overrides(n=4, top_k=None).settings() == {
        "protocol": "qwen3", "n": 4, "temperature": 0.6, "top_p": 0.95, "top_k": 20, "min_p": 0.0, "max_new_tokens": 32_768,
    }  # fmt: skip
    with pytest.raises(ValueError, match="greedy samples would all be the same"):
        get_protocol("greedy").with_overrides(n=4)
    with pytest.raises(ValueError, match="unknown protocol"):
        get_protocol("r2")


def test_a_line_another_rank_is_writing_does_not_stop_this_rank(tmp_path):
    run(tmp_path, scripted(), share=Share(1, 2))
    other = tmp_path / "gsm8k.rank1.jsonl"
    other.write_text(other.read_text() + '{"id": "q5", "ind')  # rank 1 caught mid-write
    records = run(tmp_path, scripted(), share=Share(0, 2))
    assert [r["id"] for r in records] == ["q0", "q2", "q4"]
