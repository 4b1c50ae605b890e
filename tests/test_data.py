"""Tests for reasoning.data: MATH-500, the general loader, and its error messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from conftest import MATH500, MATH500_FILE

from reasoning.data import DatasetError, Problem, load_math500, load_problems
from reasoning.hub import HubUnavailableError


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.skipif(not MATH500.is_file(), reason=f"{MATH500} not present")
def test_load_math500_reads_all_500_problems():
    problems = load_math500(MATH500)
    assert len(problems) == len({problem.id for problem in problems}) == 500


def test_load_math500_maps_the_fields():
    problems = load_math500(MATH500_FILE)
    assert len({problem.id for problem in problems}) == len(problems) == len(json.loads(MATH500_FILE.read_text()))
    first = problems[0]
    assert first.id == "test/precalculus/807.json"
    assert first.question.startswith("Convert the point $(0,3)$ in rectangular coordinates")
    assert first.answer == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert (first.subject, first.level) == ("Precalculus", 2)
    assert first.solution.startswith("We have that $r = \\sqrt{0^2 + 3^2} = 3.$")
    assert first.meta == {}
    assert all(isinstance(p.level, int) and p.subject and p.solution for p in problems)


def test_load_math500_limit_keeps_the_first_records():
    problems = load_math500(str(MATH500_FILE), limit=3)
    assert [p.id for p in problems] == [p.id for p in load_math500(MATH500_FILE)[:3]]


def test_load_math500_without_path_uses_the_hub_test_split(monkeypatch):
    rows = [{"problem": "1+1?", "answer": "2", "solution": "\\boxed{2}", "subject": "Algebra",
             "level": 1, "unique_id": "test/algebra/1.json"}]
    calls = []

    def load_dataset(name, config, *, split):
        calls.append((name, config, split))
        return rows

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    problems = load_math500()
    assert calls == [("HuggingFaceH4/MATH-500", None, "test")]
    assert problems == [Problem("test/algebra/1.json", "1+1?", "2", "Algebra", 1, "\\boxed{2}", {})]


def test_hub_unreachable_raises_one_clear_connection_error(tmp_path):
    # A fresh process: the offline switches are read when huggingface_hub is imported.
    code = (
        "from reasoning.data import load_math500\n"
        "try:\n    load_math500()\n"
        "except ConnectionError as error:\n    print(type(error).__name__, '|', error)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    name, message = result.stdout.strip().split(" | ")
    assert name == HubUnavailableError.__name__
    assert "'HuggingFaceH4/MATH-500'" in message and "local .json or .jsonl" in message


def test_hub_error_is_a_connection_error_naming_the_dataset(monkeypatch):
    def load_dataset(name, config, *, split):
        raise ConnectionError("Couldn't reach the Hub")

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    with pytest.raises(HubUnavailableError, match="'openai/gsm8k'.*local .json or .jsonl"):
        load_problems("openai/gsm8k", config="main")


def test_jsonl_round_trip_with_configured_columns(tmp_path):
    records = [
        {"uid": "a", "prompt": "What is 6*7?", "target": 42, "source": "toy"},
        {"uid": 7, "prompt": "Half of 1?", "target": 0.5},
        {"uid": "c", "prompt": "Name x.", "target": "\\frac{1}{2}"},
    ]
    lines = [json.dumps(records[0]), json.dumps(records[1]), "", "  ", json.dumps(records[2])]
    path = write_jsonl(tmp_path / "train.jsonl", lines)
    problems = load_problems(path, question_field="prompt", answer_field="target", id_field="uid")
    assert problems == [
        Problem("a", "What is 6*7?", "42", meta={"source": "toy"}),
        Problem("7", "Half of 1?", "0.5"),
        Problem("c", "Name x.", "\\frac{1}{2}"),
    ]


def test_missing_ids_default_to_the_record_index_skipping_blank_lines(tmp_path):
    lines = ['{"question": "q0", "answer": "0"}', "", '{"question": "q1", "answer": "1"}']
    path = write_jsonl(tmp_path / "t.jsonl", lines)
    assert [p.id for p in load_problems(path)] == ["0", "1"]


def test_json_list_file_loads_and_jsonl_under_json_name_too(tmp_path):
    records = [{"question": "q0", "answer": "a0"}, {"question": "q1", "answer": "a1"}]
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps(records, indent=2))
    as_lines = write_jsonl(tmp_path / "lines.json", [json.dumps(r) for r in records])
    expected = [Problem("0", "q0", "a0"), Problem("1", "q1", "a1")]
    assert load_problems(listed) == expected
    assert load_problems(as_lines) == expected


@pytest.mark.parametrize("name", ["bom.jsonl", "bom.json"])
def test_files_saved_with_a_utf8_byte_order_mark_load(tmp_path, name):
    path = tmp_path / name
    text = '{"question": "q", "answer": "a"}' if name.endswith("l") else '[{"question": "q", "answer": "a"}]'
    path.write_text(text, encoding="utf-8-sig")
    assert load_problems(path) == [Problem("0", "q", "a")]


GOOD = '{"id": "g", "question": "q", "answer": "a"}'


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ('{"id": "x", "question": "q", "answer": ', "invalid JSON"),
        ('["q", "a"]', "expected a JSON object, got list"),
        ('{"id": "x", "answer": "a"}', "missing field 'question'"),
        ('{"id": "x", "question": "   ", "answer": "a"}', "field 'question' must be a non-empty string"),
        ('{"id": "x", "question": 12, "answer": "a"}', "field 'question' must be a non-empty string"),
        ('{"id": "x", "question": "q"}', "missing field 'answer'"),
        ('{"id": "x", "question": "q", "answer": ["a"]}', "field 'answer' must be a non-empty string or a finite"),
        ('{"id": "x", "question": "q", "answer": true}', "field 'answer' must be"),
        ('{"id": "x", "question": "q", "answer": null}', "field 'answer' must be"),
        ('{"id": "x", "question": "q", "answer": NaN}', "field 'answer' must be"),
        ('{"id": "x", "question": "q", "answer": ""}', "field 'answer' must be"),
        ('{"question": "q", "answer": "a"}', "missing field 'id'"),
        ('{"id": 1.5, "question": "q", "answer": "a"}', "field 'id' must be a non-empty string or an integer"),
        ('{"id": "g", "question": "q2", "answer": "a"}', "duplicate id 'g' (first seen at "),
    ],
)
def test_bad_jsonl_record_names_file_line_and_field(tmp_path, bad_line, expected):
    path = write_jsonl(tmp_path / "bad.jsonl", [GOOD, "", bad_line])
    with pytest.raises(DatasetError) as info:
        load_problems(path, id_field="id")
    assert str(info.value).startswith(f"{path}, line 3: ")
    assert expected in str(info.value)


def test_bad_json_list_record_names_file_and_index(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"question": "q", "answer": "a"}, {"question": "q"}]))
    with pytest.raises(DatasetError, match=r"bad\.json\[1\]: missing field 'answer' \(fields: 'question'\)"):
        load_problems(path)


def test_malformed_json_file_names_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"question": "q", "answer": "a"},\n  oops\n]')
    with pytest.raises(DatasetError, match=r"broken\.json, line 3: invalid JSON"):
        load_problems(path)


def test_json_file_must_hold_a_list(tmp_path):
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({"data": [{"question": "q", "answer": "a"}]}, indent=2))
    with pytest.raises(DatasetError, match=r"wrapped\.json: expected a JSON list of records, got a JSON dict"):
        load_problems(path)


@pytest.mark.parametrize("name", ["missing.jsonl", "missing.json", "sub/dir/missing"])
def test_missing_file_raises_file_not_found_naming_the_path(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(FileNotFoundError, match=f"dataset file not found: {path}"):
        load_problems(str(path))


def test_directory_is_a_clear_error(tmp_path):
    with pytest.raises(IsADirectoryError, match=f"{tmp_path} is a directory"):
        load_problems(tmp_path)


def test_unsupported_file_type_is_a_clear_error(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("question,answer\nq,a\n")
    with pytest.raises(DatasetError, match=r"train\.csv: unsupported file type '\.csv'"):
        load_problems(path)


def test_limit_stops_reading_before_later_bad_lines(tmp_path):
    lines = ['{"question": "q0", "answer": "0"}', '{"question": "q1", "answer": "1"}', "not json"]
    path = write_jsonl(tmp_path / "t.jsonl", lines)
    assert [p.question for p in load_problems(path, limit=2)] == ["q0", "q1"]
    assert load_problems(path, limit=0) == []
    with pytest.raises(DatasetError, match="line 3: invalid JSON"):
        load_problems(path)
    with pytest.raises(ValueError, match="limit must be >= 0"):
        load_problems(path, limit=-1)


def test_problem_is_frozen_and_hashable():
    problem = Problem("1", "q", "a", meta={"x": [1]})
    with pytest.raises(AttributeError):
        problem.answer = "b"
    assert hash(problem) == hash(Problem("1", "q", "a", meta={"y": 2}))
