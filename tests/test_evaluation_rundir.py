"""A run's layout read back: record files per task and rank, one records file as a run, and
results files of the former `eval math500` read as one-sample records."""

from __future__ import annotations

import json

import pytest

from reasoning.evaluation.records import RecordsError
from reasoning.evaluation.rundir import read_records_file, read_results, read_task, tasks_in
from reasoning.evaluation.summary import summarize
from test_evaluation_run import run, scripted

FORMER = [  # two lines of a results file written by `reasoning eval math500 --strategy self-consistency`
    {"settings": {"model": "m", "strategy": "self-consistency", "n": 4, "temperature": 0.8, "cot": False}},
    {"id": "a", "subject": "Algebra", "level": 1, "prompt": "Q1", "completion": "so \\boxed{2}", "extracted": "2", "gold": "2",
     "correct": True, "grade": {"method": "string", "reason": ""}, "tokens": 40, "seconds": 1.0,
     "votes": [{"answer": "2", "count": 3, "samples": [0, 1, 2]}]},
    {"id": "b", "subject": "Geometry", "level": 2, "prompt": "Q2", "completion": "no idea", "extracted": None, "gold": "5",
     "correct": False, "grade": {"reason": "no answer found"}, "tokens": 12, "seconds": 0.5},
]  # fmt: skip


def test_a_former_eval_math500_file_reads_as_one_sample_records(tmp_path):
    path = tmp_path / "math500-greedy.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in FORMER))
    settings, records = read_records_file(path)
    assert settings["task"] == "math500" and settings["strategy"] == "self-consistency"
    first, second = records
    assert first["samples"] == [{"text": "so \\boxed{2}", "extracted": "2", "correct": True, "grade": {"method": "string", "reason": ""},
                                 "tokens": 40, "finish_reason": "unknown"}]  # fmt: skip
    assert first["groups"] == [0] and second["groups"] == [None] and [r["index"] for r in records] == [0, 1]
    assert first["details"] == {"votes": FORMER[1]["votes"]} and "details" not in second
    s = summarize(records)
    assert s["accuracy"] == 0.5 and s["tokens_per_problem"] == 26 and s["by_subject"]["Algebra"]["accuracy"] == 1.0
    assert list(read_results(path)) == ["math500"]


def test_a_record_without_its_samples_names_the_file_and_the_record(tmp_path):
    path = tmp_path / "gsm8k.jsonl"
    path.write_text(json.dumps({"settings": {"task": "gsm8k"}}) + "\n" + json.dumps({"id": "q0", "index": 0, "groups": []}) + "\n")
    with pytest.raises(RecordsError, match=r"gsm8k.jsonl, line 2: the record has no 'samples' field"):
        read_task(tmp_path, "gsm8k")
    headless = tmp_path / "headless.jsonl"
    headless.write_text(json.dumps({"id": "q0"}) + "\n")
    with pytest.raises(RecordsError, match="no settings header"):
        read_results(headless)


def test_a_run_directory_reads_by_task(tmp_path):
    run(tmp_path, scripted())
    assert tasks_in(tmp_path) == ["gsm8k"]
    [(name, (settings, records))] = read_results(tmp_path).items()
    assert name == "gsm8k" and settings["task"] == "gsm8k" and len(records) == 6
    with pytest.raises(FileNotFoundError, match="holds no records of aime24"):
        read_task(tmp_path, "aime24")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ValueError, match="holds no records"):
        read_results(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="not found"):
        read_results(tmp_path / "missing.jsonl")
