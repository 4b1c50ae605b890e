"""The viewer's data, page and digest without a browser: counts, filters' predicates, the split
at </think>, text caps, escaping of hostile text, several runs, a budget sweep, the command."""

from __future__ import annotations

import json

import pytest
from view_records import HOSTILE, record, sample, small_run, write_records, write_training_samples

from reasoning.cli import main
from reasoning.generation.thinking import DEFAULT_CLOSING
from reasoning.view.data import FILTERS, capped, filtered, last_span, length_histogram, text_cap, view_data
from reasoning.view.html import embedded_json, report_html
from reasoning.view.markdown import report_markdown
from reasoning.view.training import page_data


def rows_of(data, run=0, task=0):
    return data["runs"][run]["tasks"][task]["problems"]


def test_one_row_per_record_with_its_samples_and_votes(tmp_path):
    rows = rows_of(view_data([write_records(tmp_path / "math500.jsonl", small_run())]))
    assert [row["id"] for row in rows] == ["p0", "p1", "p2", "p3"]
    assert [len(row["samples"]) for row in rows] == [2, 2, 2, 2]
    assert [row["right"] for row in rows] == [1.0, 0.5, 0.0, 1.0]
    assert [[(v["answer"], v["count"], v["correct"]) for v in row["votes"]] for row in rows] == [
        [("2", 2, True)],
        [("2", 1, True), ("3", 1, False)],
        [],
        [("2", 2, True)],
    ]
    assert [row["majority"] for row in rows] == ["2", "2", None, "2"]


def test_majority_is_the_largest_group_not_the_first(tmp_path):
    samples = [sample("\\boxed{3}", "3", False), sample("\\boxed{2}", "2", True), sample("\\boxed{2}", "2", True)]
    rows = rows_of(view_data([write_records(tmp_path / "math500.jsonl", [record(0, samples, [0, 1, 1])])]))
    assert rows[0]["majority"] == "2" and rows[0]["votes"][0]["samples"] == [1, 2]


def test_filters_keep_exactly_the_problems_they_name(tmp_path):
    rows = rows_of(view_data([write_records(tmp_path / "math500.jsonl", small_run())]))
    assert [row["id"] for row in filtered(rows, "wrong")] == ["p1", "p2"]
    assert [row["id"] for row in filtered(rows, "truncated")] == ["p2"]
    assert [row["id"] for row in filtered(rows, "unfinished")] == ["p2"]
    assert [row["id"] for row in filtered(rows, "disagreement")] == ["p1"]
    for row in rows:  # the page filters on the flags the predicates set
        assert row["flags"] == [name for name in FILTERS if FILTERS[name](row)]


def test_samples_split_at_the_last_think_end(tmp_path):
    rows = rows_of(view_data([write_records(tmp_path / "math500.jsonl", small_run())]))
    first = rows[0]["samples"][0]
    assert (first["thinking"], first["answer"], first["thinking_state"]) == ("1+1", "The answer is \\boxed{2}", "closed")
    cut = rows[2]["samples"][0]
    assert (cut["thinking"], cut["answer"], cut["thinking_state"], cut["finish_reason"]) == ("long and longer", "", "unfinished", "length")
    assert first["grade"] == "math: equal" and first["extracted"] == "2" and first["tokens"] == 10


def test_long_text_is_cut_in_the_middle_with_a_note():
    text = "a" * 600 + "b" * 600
    kept = capped(text, 400)
    assert kept.startswith("a" * 200) and kept.endswith("b" * 200) and "[... 800 characters cut ...]" in kept
    assert capped("short", 400) == "short"


def test_text_cap_keeps_a_500_by_16_run_within_a_few_megabytes():
    assert 2 * 500 * 16 * text_cap(500 * 16) <= 8_000_000
    assert text_cap(4) == 20_000  # a small run is shown whole up to the ceiling


def test_embedded_json_has_no_character_that_ends_a_script_and_reads_back():
    data = {"text": HOSTILE + "<!-- \u2028 \u2029 & -->"}
    text = embedded_json(data)
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == data


def test_page_holds_only_its_own_two_scripts(tmp_path):
    page = report_html(view_data([write_records(tmp_path / "math500.jsonl", small_run())]), title="<b>&</b>")
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "<title>&lt;b&gt;&amp;&lt;/b&gt;</title>" in page
    links = page.replace("'http://www.w3.org/2000/svg'", "")  # the SVG namespace names, it loads nothing
    assert "http://" not in links and "https://" not in links  # nothing loads from a network


def test_several_runs_put_each_problem_side_by_side(tmp_path):
    before = write_records(tmp_path / "before.jsonl", small_run())
    worse = [record(i, [sample("x", "9", False)] * 2, [0, 0]) for i in range(3)]
    after = write_records(tmp_path / "after.jsonl", worse)
    rows = rows_of(view_data([before, after]))
    assert [row["across"] for row in rows] == [[1.0, 0.0], [0.5, 0.0], [0.0, 0.0], [1.0, None]]


def test_a_budget_sweep_directory_shows_each_budget_as_a_task(tmp_path):
    for budget in (64, 512):
        write_records(tmp_path / f"math500@{budget}.jsonl", small_run(), task=f"math500@{budget}")
    data = view_data([tmp_path])
    assert [task["task"] for task in data["runs"][0]["tasks"]] == ["math500@512", "math500@64"]
    assert data["runs"][0]["tasks"][0]["summary"]["pass@1"] == 0.625


def test_markdown_digest_lists_the_shortest_wrong_samples_in_unbreakable_fences(tmp_path):
    samples = [sample("````` no", "1", False), sample("a much longer wrong sample text", "5", False), sample("\\boxed{2}", "2", True)]
    data = view_data([write_records(tmp_path / "math500.jsonl", [record(0, samples, [0, 1, 2])])])
    digest = report_markdown(data, wrong=1)
    assert "| math500 | 1 | 3 | 33.3% ± 0.0% |" in digest
    assert "sample 0" in digest and "sample 1" not in digest
    assert "``````\n````` no\n``````" in digest


def test_view_command_writes_the_page_and_the_digest(tmp_path, capsys):
    run = write_records(tmp_path / "math500.jsonl", small_run())
    assert main(["view", str(run), "--out", str(tmp_path / "report.html")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {tmp_path / 'report.html'} (") and "MB): 1 run(s), 4 problems" in printed
    assert '<script type="application/json" id="view-data">' in (tmp_path / "report.html").read_text()
    assert main(["view", str(run), "--format", "md", "--wrong", "1", "--out", str(tmp_path / "digest.md")]) == 0
    assert (tmp_path / "digest.md").read_text().count("**math500 ·") == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_overview_breaks_down_by_subject_and_level(tmp_path):
    records = small_run()
    records[1]["subject"] = "Geometry"
    task = view_data([write_records(tmp_path / "math500.jsonl", records)])["runs"][0]["tasks"][0]
    assert [(r["name"], r["problems"], r["pass@1"]) for r in task["by_subject"]] == [("Algebra", 3, 2 / 3), ("Geometry", 1, 0.5)]
    levels = [(r["name"], r["problems"], r["pass@1"]) for r in task["by_level"]]
    assert levels == [("1", 1, 1.0), ("2", 1, 0.5), ("3", 1, 0.0), ("4", 1, 1.0)]


def test_length_histogram_counts_correct_and_wrong_samples_by_tokens():
    samples = [sample("a", "2", True, tokens=5), sample("b", "3", False, tokens=95), sample("c", "2", True, tokens=100)]
    records = [record(0, samples, [0, 1, 0])]
    histogram = length_histogram(records, bins=4)
    assert histogram["edges"] == [0, 25, 50, 75, 100]
    assert histogram["correct"] == [1, 0, 0, 1] and histogram["wrong"] == [0, 0, 0, 1]


def test_a_budget_sweep_gives_accuracy_against_budget(tmp_path):
    for budget, right in ((64, 1), (512, 2)):
        records = [record(i, [sample("x", "2", i < right)] * 2, [0, 0]) for i in range(2)]
        write_records(tmp_path / f"math500@{budget}.jsonl", records, task=f"math500@{budget}")
    write_records(tmp_path / "aime.jsonl", small_run(), task="aime")
    budgets = view_data([tmp_path])["runs"][0]["budgets"]
    assert [(p["budget"], p["pass@1"]) for p in budgets["math500"]] == [(64, 0.5), (512, 1.0)] and list(budgets) == ["math500"]


def test_several_runs_carry_the_paired_difference_per_benchmark(tmp_path):
    before = write_records(tmp_path / "before.jsonl", small_run())  # pass@1 per problem: 1, .5, 0, 1
    after = write_records(tmp_path / "after.jsonl", [record(i, [sample("x", "2", True)] * 2, [0, 0]) for i in range(3)])
    (row,) = view_data([before, after])["paired"]
    differences = [1 - 1.0, 1 - 0.5, 1 - 0.0]  # the three problems both runs hold
    mean = sum(differences) / 3
    stderr = (sum((d - mean) ** 2 for d in differences) / 2 / 3) ** 0.5
    assert (row["task"], row["problems"], row["accuracy"], row["base_accuracy"]) == ("math500", 3, 1.0, 0.625)
    assert abs(row["difference"] - mean) < 1e-12 and abs(row["stderr"] - stderr) < 1e-12
    assert abs(row["low"] - (mean - 1.96 * stderr)) < 1e-3 and abs(row["high"] - (mean + 1.96 * stderr)) < 1e-3
    assert view_data([before])["paired"] == []


def test_a_training_samples_log_gives_one_row_per_sample(tmp_path):
    log = write_training_samples(tmp_path / "grpo")
    for given in (log, tmp_path / "grpo"):  # the file, or the training run directory
        data = page_data([given])
        rows = data["training"]["samples"]
        assert [(r["step"], r["problem"], r["reward"]) for r in rows] == [(1, "p0", 1.0), (1, "p1", 1.5), (2, "p0", 2.0), (2, "p1", 2.5)]
        assert rows[3]["completion"] == f"<think>try 2</think>{HOSTILE}" and data["runs"] == []
    assert "training" not in page_data([write_records(tmp_path / "math500.jsonl", small_run())])


def test_a_broken_samples_log_is_refused_naming_the_line(tmp_path):
    log = tmp_path / "samples.jsonl"
    log.write_text('{"step": 1, "completion": "x"}\n[1, 2]\n')
    with pytest.raises(ValueError, match="samples.jsonl line 2: not a training sample"):
        page_data([log])


def test_view_command_writes_a_training_samples_page(tmp_path, capsys):
    write_training_samples(tmp_path / "grpo")
    assert main(["view", str(tmp_path / "grpo"), "--out", str(tmp_path / "samples.html")]) == 0
    assert capsys.readouterr().out.endswith("MB): 4 training samples\n")
    assert '"training":' in (tmp_path / "samples.html").read_text()


def test_a_sample_marks_where_its_answer_was_read_and_the_forced_closing(tmp_path):
    forced = f"<think>Let x be 2, no 3.{DEFAULT_CLOSING}So 2 or 3: \\boxed{{3}}"
    natural = "<think>Time is up, so I will answer with what I have worked out so far. Then x=3.</think>\\boxed{3}"
    records = [record(0, [sample(forced, "3", False), sample(natural, "3", False)], [0, 0])]
    rows = rows_of(view_data([write_records(tmp_path / "math500.jsonl", records)]))
    cut, free = rows[0]["samples"]
    start, end = cut["answer_mark"]
    assert cut["answer"][start:end] == "3" and cut["answer"][end:] == "}" and cut["answer"][:start].endswith("\\boxed{")
    start, end = cut["forced"]
    assert cut["thinking"][start:end] == "Time is up, so I will answer with what I have worked out so far."
    assert cut["thinking"][:start].rstrip() == "Let x be 2, no 3."
    assert free["forced"] is None and free["answer_mark"] == [7, 8]  # the same words mid-thinking are the model's own
    assert last_span("no answer here", None) is None and last_span("abc", "z") is None


def test_the_closing_marked_is_the_runs_own(tmp_path):
    closing = "\nOK, answer now.\n</think>\n"
    records = [record(0, [sample(f"<think>hmm{closing}\\boxed{{2}}", "2", True)], [0])]
    path = tmp_path / "math500.jsonl"
    path.write_text(json.dumps({"settings": {"task": "math500", "thinking_closing": closing}}) + "\n" + json.dumps(records[0]) + "\n")
    (one,) = rows_of(view_data([path]))[0]["samples"]
    assert one["thinking"][slice(*one["forced"])] == "OK, answer now."
