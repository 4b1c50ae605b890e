"""`reasoning eval math500 --strategy ...` end to end on a scripted checkpoint, then `eval compare`.

The scripted model (see scripted.py and test_scaling.py) answers every prompt " \\boxed{7}"
(sometimes "8", sometimes after a preamble), and every problem's answer here is 7: greedy
decoding is right, a single sample may not be, and the methods' records can be checked.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

import scripted
from reasoning.checkpoint import save_pretrained
from reasoning.cli import main
from reasoning.evaluation.records import read_records, read_run
from test_scaling import PREAMBLE, answer_script

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("scaling")
    checkpoint = root / "scripted"
    save_pretrained(scripted.scripted_model(answer_script(eight_odds=-1.0)), scripted.tokenizer(), checkpoint)
    data = root / "problems.jsonl"
    rows = [
        {"problem": f"What is {k} + {7 - k}?", "solution": "", "answer": "7", "subject": "Algebra", "level": 1, "unique_id": f"p{k}"}
        for k in range(4)
    ]  # fmt: skip
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return checkpoint, data, root


def run(setup, name, *extra):
    checkpoint, data, root = setup
    out = root / f"{name}.jsonl"
    args = ["eval", "math500", "--model", str(checkpoint), "--data", str(data), "--max-new-tokens", "16",
            "--batch-size", "4", "--device", "cpu", "--seed", "5", "--out", str(out), *extra]  # fmt: skip
    assert main(args) == 0
    return out, read_records(out)


def test_greedy_and_cot_are_right_and_spend_the_short_answer(setup):
    _, greedy = run(setup, "greedy")
    assert all(r["correct"] and r["tokens"] == 6 for r in greedy)
    _, cot = run(setup, "cot", "--strategy", "cot")
    assert all(r["prompt"].endswith("Explain step by step.") for r in cot)


def test_self_consistency_records_votes_and_all_samples(setup):
    out, records = run(setup, "sc", "--strategy", "self-consistency", "--n", "6")
    for record in records:
        samples = record["samples"]
        assert len(samples) == 6 and record["tokens"] == sum(s["tokens"] for s in samples)
        counts = {v["answer"]: v["count"] for v in record["votes"]}
        assert counts.get("7", 0) == sum(s["answer"] == "7" for s in samples)
        assert record["extracted"] == record["votes"][0]["answer"]
        assert record["votes"][0]["count"] == max(counts.values())
    settings = read_run(out)[0]
    assert settings["strategy"] == "self-consistency" and settings["n"] == 6 and settings["temperature"] == 0.8
    _, again = run(setup, "sc-again", "--strategy", "self-consistency", "--n", "6")  # deterministic records
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in again] == [
        {k: v for k, v in r.items() if k != "seconds"} for r in records
    ]


def test_best_of_n_picks_the_top_scored_candidate(setup):
    _, records = run(setup, "bon", "--strategy", "best-of-n", "--n", "4", "--scorer", "heuristic")
    for record in records:
        scores = [c["score"] for c in record["candidates"]]
        assert record["chosen"] == scores.index(max(scores))
        assert record["completion"] == record["candidates"][record["chosen"]]["text"]
        assert record["tokens"] == sum(c["tokens"] for c in record["candidates"])
    _, judged = run(setup, "bon-judge", "--strategy", "best-of-n", "--n", "2", "--scorer", "judge")
    for record in judged:  # judge replies (6 tokens each) count as spent
        assert record["tokens"] == sum(c["tokens"] for c in record["candidates"]) + 6 * 2


def test_self_refine_records_each_round(setup):
    _, records = run(setup, "refine", "--strategy", "self-refine", "--rounds", "2", "--scorer", "logprob")
    for record in records:
        [round_] = record["rounds"]  # identical revision: no improvement, so it stops after one
        assert not round_["improved"] and record["completion"] == record["draft"]["text"]
        assert record["tokens"] == 6 + round_["tokens"] and record["correct"]


def test_sample_strategy_and_bad_combinations(setup, capsys):
    _, records = run(setup, "sample", "--strategy", "sample")
    assert {r["tokens"] for r in records} <= {6, 6 + len(PREAMBLE)}
    checkpoint, data, root = setup
    base = ["eval", "math500", "--model", str(checkpoint), "--data", str(data), "--out", str(root / "bad.jsonl")]
    assert main([*base, "--strategy", "self-consistency", "--temperature", "0"]) == 2
    assert "temperature above 0" in capsys.readouterr().err


def test_an_empty_dataset_is_nothing_to_evaluate_and_writes_nothing(setup, capsys):
    checkpoint, _, root = setup
    empty = root / "empty.jsonl"
    empty.write_text("")
    out = root / "empty-results.jsonl"
    assert main(["eval", "math500", "--model", str(checkpoint), "--data", str(empty), "--out", str(out)]) == 2
    assert "nothing to evaluate" in capsys.readouterr().err and not out.exists()
    out.write_text("")
    assert main(["eval", "score", str(out)]) == 2
    assert "nothing to score" in capsys.readouterr().err


def test_compare_tabulates_runs_and_plots(setup, capsys):
    greedy, _ = run(setup, "cmp-greedy")
    sampled, _ = run(setup, "cmp-sc", "--strategy", "self-consistency", "--n", "3")
    plot = setup[2] / "compare.png"
    capsys.readouterr()
    assert main(["eval", "compare", str(greedy), str(sampled), "--plot", str(plot)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["method", "accuracy"]
    assert table[1].startswith("greedy") and "100.0%" in table[1]
    assert table[2].startswith("self-consistency n=3 T=0.8")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("script", ["ch04_inference_scaling.py", "ch05_self_refinement.py"])
def test_chapter_scripts_run(setup, script, monkeypatch, tmp_path, capsys):
    checkpoint, data, _ = setup
    monkeypatch.chdir(tmp_path)  # they write results/ in the working directory
    extra = ["--n", "2"] if script.startswith("ch04") else ["--rounds", "1"]
    argv = [script, "--model", str(checkpoint), "--data", str(data), "--limit", "2", "--max-new-tokens", "8", "--plot", "cmp.png", *extra]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(CHAPTERS / script), run_name="__main__")
    table = capsys.readouterr().out.split("\nmethod")[-1].splitlines()
    assert len(table) == (6 if script.startswith("ch04") else 4)  # header line + one row per method
    assert (tmp_path / "cmp.png").is_file() and len(list((tmp_path / "results").glob("*.jsonl"))) == len(table) - 1


def test_evaluation_prompts_use_the_checkpoints_own_chat_template(setup, tmp_path):
    from reasoning.data import load_math500
    from reasoning.evaluation.math500 import evaluate_math500
    from reasoning.generation import GenerationConfig
    from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer

    checkpoint, data, _ = setup
    template = "{% for m in messages %}<<{{ m['content'] }}>>{% endfor %}{% if add_generation_prompt %}REPLY:{% endif %}"
    tokenizer = Qwen3Tokenizer(build_offline_tokenizer(), chat_template=template)
    model = scripted.scripted_model(answer_script())
    problems = load_math500(data, limit=1)
    [record] = evaluate_math500(
        model, tokenizer, problems, GenerationConfig(max_new_tokens=4), tmp_path / "t.jsonl", model_name="m", kind="reasoning",
        progress=False,
    )  # fmt: skip
    assert record["prompt"].startswith("<<You are a helpful math assistant.") and record["prompt"].endswith(">>REPLY:")
