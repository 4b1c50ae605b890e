"""Records files (records.py) and the one streaming record loop (stream.py): headers, torn
lines, refusals, and results written while grading runs beside generation."""

from __future__ import annotations

import json
import time

import pytest

from reasoning.evaluation.records import RecordsError, read_run, write_records
from reasoning.evaluation.stream import open_records, stream_records


def test_a_malformed_line_in_the_middle_names_the_line(tmp_path):
    out = tmp_path / "bad.jsonl"
    out.write_text('{"id": "a", "correct": true}\nnot json\n{"id": "b", "correct": false}\n')
    with pytest.raises(RecordsError, match=r"bad.jsonl, line 2"):
        read_run(out, repair=True)


def test_a_torn_last_line_is_cut_on_repair_and_left_when_live(tmp_path):
    out = tmp_path / "r.jsonl"
    write_records(out, [{"id": "a"}], {"seed": 1})
    with open(out, "a") as handle:
        handle.write('{"id": "b", "x')
    with pytest.raises(RecordsError, match="line 3"):
        read_run(out)
    assert read_run(out, live=True) == ({"seed": 1}, [{"id": "a"}]) and out.read_text().endswith('"x')
    assert read_run(out, repair=True) == ({"seed": 1}, [{"id": "a"}]) and out.read_text().endswith("}\n")


def test_a_fresh_file_gets_the_header_and_a_started_one_needs_resume_and_equal_settings(tmp_path):
    path = tmp_path / "run.jsonl"
    records, writer = open_records(path, {"model": "m", "stop": ("a",)}, resume=False)
    with writer:
        writer.write({"id": "p0"})
    assert records == [] and json.loads(path.read_text().splitlines()[0]) == {"settings": {"model": "m", "stop": ["a"]}}
    with pytest.raises(RecordsError, match="already holds results: pass --resume"):
        open_records(path, {"model": "m", "stop": ("a",)}, resume=False)
    with pytest.raises(RecordsError, match="settings differ from the saved run: model saved \"m\", now"):
        open_records(path, {"model": "n", "stop": ("a",)}, resume=True)
    records, writer = open_records(path, {"model": "m", "stop": ("a",)}, resume=True)  # tuples compare as saved
    with writer:
        writer.write({"id": "p1"})
    assert records == [{"id": "p0"}] and read_run(path)[1] == [{"id": "p0"}, {"id": "p1"}]


def test_results_graded_before_an_interruption_are_all_written():
    written = []

    def generated():
        yield 0, "a"
        yield 1, "b"
        raise KeyboardInterrupt

    def grade(index, item):
        time.sleep(0.2 * (index == 0))  # the first grade is slow: still pending at the interruption
        return f"{item}{index}"

    with pytest.raises(KeyboardInterrupt):
        stream_records(generated(), grade, written.append)
    assert sorted(written) == ["a0", "b1"]


def test_grading_runs_beside_generation():
    """Generation goes on while a slow grade runs: all items are generated before it ends."""
    events = []

    def generated():
        for index in range(4):
            events.append(("generated", index))
            yield index, index

    def grade(index, item):
        if index == 0:
            time.sleep(0.5)
        events.append(("graded", index))
        return index

    stream_records(generated(), grade, lambda result: events.append(("written", result)))
    assert events.index(("generated", 3)) < events.index(("graded", 0))
    assert sorted(result for kind, result in events if kind == "written") == [0, 1, 2, 3]


def test_a_file_holding_only_the_header_of_a_failed_start_is_started_afresh(tmp_path):
    path = tmp_path / "run.jsonl"
    _, writer = open_records(path, {"model": "m", "min_thinking": 900}, resume=False)
    writer.close()  # the run failed before its first record (a bad option found after loading)
    for resume in (False, True):  # the corrected command is accepted with or without --resume
        records, writer = open_records(path, {"model": "m", "min_thinking": 90}, resume=resume)
        writer.close()
        assert records == [] and read_run(path) == ({"model": "m", "min_thinking": 90}, [])


def test_a_refused_resume_shows_each_differing_setting_saved_and_new(tmp_path):
    path = tmp_path / "run.jsonl"
    records, writer = open_records(path, {"model": "m", "quantize": "none", "seed": 0}, resume=False)
    with writer:
        writer.write({"id": "p0"})
    with pytest.raises(RecordsError) as refused:
        open_records(path, {"model": "m", "quantize": "int8", "seed": 0, "top_k": 20}, resume=True)
    assert str(refused.value).endswith('settings differ from the saved run: quantize saved "none", now "int8"; top_k saved (not set), now 20')
