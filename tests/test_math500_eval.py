"""`reasoning eval math500` end to end on a tiny random checkpoint, with a crash and a resume."""

from __future__ import annotations

import json

import pytest

from conftest import MATH500_FILE
from reasoning.checkpoint import load_model, save_pretrained
from reasoning.cli import main
from reasoning.evaluation.records import read_records, read_run
from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer


@pytest.fixture
def tiny_checkpoint(hf_checkpoint, tmp_path):
    _, directory = hf_checkpoint(tied=True, vocab_size=151_936, max_position_embeddings=1024)
    out = tmp_path / "tiny-base"
    save_pretrained(load_model(directory), Qwen3Tokenizer(build_offline_tokenizer(), base=True), out)
    return out


def run(checkpoint, out, *extra):
    args = ["eval", "math500", "--model", str(checkpoint), "--data", str(MATH500_FILE), "--limit", "5",
            "--max-new-tokens", "6", "--batch-size", "2", "--device", "cpu", "--out", str(out), *extra]  # fmt: skip
    return main(args)


def test_eval_math500_writes_records_and_resumes_after_a_crash(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    assert run(tiny_checkpoint, out) == 0
    complete = read_records(out)
    assert len(complete) == 5 and len({r["id"] for r in complete}) == 5
    assert all(0 < r["tokens"] <= 6 and r["prompt"].startswith("You are a helpful math assistant.") for r in complete)
    assert "accuracy" in capsys.readouterr().out

    # A crash after two records, in the middle of writing the third.
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:2]) + lines[2][:25])
    assert run(tiny_checkpoint, out) == 2  # refuses to overwrite without --resume
    assert run(tiny_checkpoint, out, "--resume") == 0
    resumed = read_records(out)
    assert sorted(r["id"] for r in resumed) == sorted(r["id"] for r in complete)
    by_id = {r["id"]: r for r in complete}
    for record in resumed:  # greedy decoding: the redone problems give the same records
        assert {k: v for k, v in record.items() if k != "seconds"} == {
            k: v for k, v in by_id[record["id"]].items() if k != "seconds"
        }

    assert run(tiny_checkpoint, out, "--resume", "--temperature", "0.7") == 2  # other settings: refused
    assert read_run(out)[0]["temperature"] == 0.0


def test_eval_score_regrades_saved_records(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    run(tiny_checkpoint, out)
    records = read_records(out)
    records[0].update(completion="so \\boxed{" + records[0]["gold"] + "}", correct=False)
    out.write_text("".join(json.dumps(r) + "\n" for r in records))
    capsys.readouterr()
    assert main(["eval", "score", str(out), "--write"]) == 0
    assert read_records(out)[0]["correct"] is True
    assert "accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("strategy", ["sample", "self-consistency"])
def test_a_resumed_sampling_strategy_draws_the_samples_of_an_uninterrupted_run(strategy, tiny_checkpoint, tmp_path):
    """Each problem's samples are keyed by its index in the benchmark, not by its place among
    the problems left; --batch-size 2 = n, so every run decodes in the same shapes."""
    sampled = ("--strategy", strategy, "--n", "2", "--temperature", "1.0", "--seed", "5")
    whole, cut = tmp_path / "whole.jsonl", tmp_path / "cut.jsonl"
    assert run(tiny_checkpoint, whole, *sampled) == 0
    lines = whole.read_text().splitlines(keepends=True)
    cut.write_text("".join(lines[0:1] + lines[3:5]))  # the header and two records from the middle: resume does the rest
    assert run(tiny_checkpoint, cut, *sampled, "--resume") == 0
    drop_time = lambda record: {k: v for k, v in record.items() if k != "seconds"}  # noqa: E731
    by_id = {r["id"]: drop_time(r) for r in read_records(whole)}
    assert sorted(by_id) == sorted(r["id"] for r in read_records(cut))
    assert all(drop_time(r) == by_id[r["id"]] for r in read_records(cut))
