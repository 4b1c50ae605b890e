"""Runs side by side: the table of every run, two runs paired problem by problem, with the
problems only one holds and the settings that differ said in words, and the results table of
many runs in markdown and CSV."""

from __future__ import annotations

import json

import pytest

from reasoning.cli import main
from reasoning.evaluation.compare import comparison, format_pairs, format_runs, pair, read_runs
from reasoning.evaluation.summary import summarize
from reasoning.evaluation.tasks import Task
from test_evaluation_run import problems, run, scripted


def worse(out_dir):
    """A copy of a run in out_dir/gsm8k.jsonl with every sample wrong, at temperature 0.7."""
    path = out_dir / "gsm8k.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[0]["settings"]["temperature"] = 0.7
    for record in lines[1:]:
        record["samples"] = [{**s, "correct": False} for s in record["samples"]]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_two_runs_pair_problem_by_problem(tmp_path):
    better = run(tmp_path / "a", scripted(n=3), settings={"temperature": 0.6})
    run(tmp_path / "b", scripted(n=3), settings={"temperature": 0.6})
    worse(tmp_path / "b")
    first, second = read_runs([tmp_path / "a", tmp_path / "b"])
    paired = pair(first, second, "gsm8k")
    assert paired.difference.problems == 6 and paired.difference.mean == pytest.approx(summarize(better)["pass@1"])
    assert paired.difference.significant and paired.difference.boot_low > 0
    assert paired.settings == {"temperature": (0.6, 0.7)} and paired.only_first == paired.only_second == 0
    same = pair(first, first, "gsm8k")
    assert same.difference.mean == 0 and not same.difference.significant and same.settings == {}
    lines = format_pairs(first, second, {"gsm8k": paired}).splitlines()
    [row] = [line for line in lines if line.startswith("gsm8k ")]
    d = paired.difference
    interval = f"[{100 * d.boot_low:+.1f}, {100 * d.boot_high:+.1f}]"
    rate = f"{summarize(better)['pass@1']:.1%}"
    assert row.split() == ["gsm8k", "6", rate, "0.0%", f"{100 * d.mean:+.1f}", f"{100 * d.stderr:.1f}", *interval.split(), "yes"]
    assert "gsm8k: settings differ: temperature (0.6 vs 0.7)" in lines


def test_problems_only_one_run_holds_are_counted_not_hidden(tmp_path):
    run(tmp_path / "a", scripted())
    run(tmp_path / "b", scripted())
    path = tmp_path / "b" / "gsm8k.jsonl"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-2]))  # B lost its last two problems
    text = comparison([tmp_path / "a", tmp_path / "b"])
    assert "gsm8k: left out 2 problems only A holds and 0 only B holds" in text
    [row] = [line for line in text.splitlines() if line.startswith("gsm8k ") and "+" in line]
    assert row.split()[1] == "4"


def test_the_table_names_every_run_and_its_method(tmp_path):
    for name, temperature in (("x", 0.0), ("y", 0.8), ("z", 0.8)):
        run(tmp_path / name, scripted(), settings={"temperature": temperature, "n": 3, "strategy": "independent"})
    text = comparison([tmp_path / "x", tmp_path / "y", tmp_path / "z"])
    lines = text.splitlines()
    assert lines[:3] == [f"A = {tmp_path / 'x'}", f"B = {tmp_path / 'y'}", f"C = {tmp_path / 'z'}"]
    rows = [line.split() for line in lines if line.startswith("gsm8k ")]
    assert [row[1] for row in rows] == ["A", "B", "C"]
    s = summarize(read_runs([tmp_path / "x"])[0].tasks["gsm8k"][1])  # 6 problems, 3 samples of 5, 6 and 7 tokens
    assert rows[0][4:] == ["6", f"{s['accuracy']:.1%}", "±", f"{100 * s['accuracy_stderr']:.1f}", f"{s['pass@1']:.1%}", "18", "1.5", "s"]
    assert s["tokens_per_problem"] == 18 and s["seconds"] == 1.5 and s["accuracy"] == s["pass@1"]
    assert rows[0][2:4] == ["independent", "greedy"] and rows[1][2:5] == ["independent", "n=3", "T=0.8"]
    assert "paired" not in text  # three runs: the table only


def test_the_plot_is_written(tmp_path):
    run(tmp_path / "a", scripted())
    plot = tmp_path / "plots" / "c.png"
    comparison([tmp_path / "a", tmp_path / "a"], plot)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_without_records_or_shared_problems_is_refused(tmp_path):
    run(tmp_path / "a", scripted())
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no records"):
        comparison([tmp_path / "a", tmp_path / "empty"])
    other = [{**r, "id": "other-" + r["id"]} for r in run(tmp_path / "b", scripted())]
    path = tmp_path / "b" / "gsm8k.jsonl"
    header = path.read_text().splitlines(keepends=True)[0]
    path.write_text(header + "".join(json.dumps(r) + "\n" for r in other))
    with pytest.raises(ValueError, match="share no problem of gsm8k"):
        comparison([tmp_path / "a", tmp_path / "b"])


def test_record_files_and_directories_compare_alike(tmp_path):
    run(tmp_path / "a", scripted())
    runs = read_runs([tmp_path / "a" / "gsm8k.jsonl", tmp_path / "a"])
    assert list(runs[0].tasks) == list(runs[1].tasks) == ["gsm8k"]
    rows = [line.split() for line in format_runs(runs).splitlines() if line.startswith("gsm8k ")]
    assert (rows[0][1], rows[1][1]) == ("A", "B") and rows[0][2:] == rows[1][2:]  # the same figures
    assert pair(*runs, "gsm8k").difference.mean == 0


def test_many_runs_make_one_results_table_in_markdown_and_csv(tmp_path, capsys):
    """Rows by run, model and method, a column per benchmark: accuracy ± its standard error, in percent.

    x: gsm8k's 6 problems have 1, 2, 3, 1, 2, 3 of 3 samples right: 2/3 ± 0.1217; math500's 4
    problems 1, 2, 3, 1: 7/12 ± 0.1596 (stdev / sqrt(problems)). y: every sample wrong, no
    math500. z: one sample, always right, and no model named (its directory names it)."""
    sampled = {"n": 3, "temperature": 0.6, "model": "Qwen/Qwen3-0.6B"}
    run(tmp_path / "x", scripted(), settings=sampled)
    run(tmp_path / "x", scripted(), settings=sampled, task=Task("math500", tuple(problems(4))))
    run(tmp_path / "y", scripted(), settings={**sampled, "model": str(tmp_path / "ckpt" / "step-100")})
    worse(tmp_path / "y")
    run(tmp_path / "z", scripted(n=1), settings={"n": 1})
    x, y, z = tmp_path / "x", tmp_path / "y", tmp_path / "z"
    assert comparison([x, y, z], fmt="md") == "\n".join([
        "| run | model | method | gsm8k | math500 |",
        "| --- | --- | --- | ---: | ---: |",
        f"| {x} | Qwen/Qwen3-0.6B | independent n=3 T=0.6 | 66.7 ± 12.2 | 58.3 ± 16.0 |",
        f"| {y} | step-100 | independent n=3 T=0.7 | 0.0 ± 0.0 |  |",
        f"| {z} | z | independent greedy | 100.0 ± 0.0 |  |",
        "",
        "accuracy (%) ± its standard error over problems; for independent samples, pass@1",
    ])  # fmt: skip
    expected_csv = "\n".join([
        "run,model,method,gsm8k,gsm8k_stderr,math500,math500_stderr",
        f"{x},Qwen/Qwen3-0.6B,independent n=3 T=0.6,66.67,12.17,58.33,15.96",
        f"{y},step-100,independent n=3 T=0.7,0.00,0.00,,",
        f"{z},z,independent greedy,100.00,0.00,,",
    ])  # fmt: skip
    assert comparison([x, y, z], fmt="csv") == expected_csv
    assert main(["eval", "compare", str(x), str(y), str(z), "--format", "csv"]) == 0
    assert capsys.readouterr().out == expected_csv + "\n"  # the table alone: no paired differences, no notes
    assert "paired differences" not in comparison([x, y], fmt="md") and "paired differences" in comparison([x, y])
