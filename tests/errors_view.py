"""Bad inputs of `reasoning view` (rows of error_table): nothing to show ends in one line, and no report is written."""

from __future__ import annotations

import json
from pathlib import Path

from error_table import ErrorCase


def empty_directory(tmp: Path, monkeypatch) -> dict:
    (tmp / "run").mkdir()
    return {"run": tmp / "run", "out": tmp / "report.html"}


def headless_file(tmp: Path, monkeypatch) -> dict:
    """A JSONL file of records without the settings header a records file starts with."""
    (tmp / "math500.jsonl").write_text(json.dumps({"id": "p0", "index": 0, "samples": [], "groups": []}) + "\n")
    return {"run": tmp / "math500.jsonl", "out": tmp / "report.html"}


def broken_samples_log(tmp: Path, monkeypatch) -> dict:
    """A training samples log whose second line is not a sample."""
    (tmp / "samples.jsonl").write_text(json.dumps({"step": 1, "completion": "x"}) + "\n{not json\n")
    return {"run": tmp / "samples.jsonl", "out": tmp / "report.html"}


def samples_log(tmp: Path, monkeypatch) -> dict:
    """A well-formed training samples log (one sample)."""
    (tmp / "samples.jsonl").write_text(json.dumps({"step": 1, "problem": "p0", "reward": 1.0, "completion": "x"}) + "\n")
    return {"run": tmp / "samples.jsonl"}


def no_report(tmp: Path, values: dict) -> None:
    assert not list(tmp.glob("report.html*")), "a failed view left a report behind"


CASES = [
    ErrorCase("view-missing-path", ("view", "{tmp}/nowhere", "--out", "{tmp}/report.html"),
              ("{tmp}/nowhere does not exist: expected an eval run directory or a records file",), None, no_report),
    ErrorCase("view-directory-without-records", ("view", "{run}", "--out", "{out}"), ("{run} holds no records",),
              empty_directory, no_report),
    ErrorCase("view-file-without-settings", ("view", "{run}", "--out", "{out}"), ("no settings header",), headless_file, no_report),
    ErrorCase("view-broken-samples-log", ("view", "{run}", "--out", "{out}"), ("samples.jsonl line 2: not JSON",), broken_samples_log,
              no_report),
    ErrorCase("view-training-log-as-md", ("view", "{run}", "--format", "md", "--out", "{tmp}/report.html"),
              ("--format md digests evaluation runs",), samples_log, no_report),
    ErrorCase("view-zero-wrong", ("view", "{tmp}", "--format", "md", "--wrong", "0"), ("--wrong",), None, usage=True),
]  # fmt: skip
