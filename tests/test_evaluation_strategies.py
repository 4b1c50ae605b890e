"""The strategies (strategies.py) and their generation side (solvers.py): `reasoning eval run
--strategy ...` end to end on a scripted checkpoint.

The scripted model (see scripted.py and test_scaling.py) answers every prompt " \\boxed{7}"
(sometimes "8", sometimes after a preamble), and every problem's answer here is 7: greedy
decoding is right, a single sample may not be, and the methods' records can be checked.
"""

from __future__ import annotations

import json

import pytest

import scripted
from reasoning.checkpoint import save_pretrained
from reasoning.cli import main
from reasoning.evaluation.rundir import read_task
from reasoning.evaluation.strategies import (
    STRATEGIES,
    BestOfN,
    Independent,
    SelfConsistency,
    SelfRefine,
    method_label,
    parse_strategy,
)
from test_scaling import PREAMBLE, answer_script

STRATEGY_TABLE = [  # strategy, label, settings header
    (Independent(), "independent", {"strategy": "independent"}),
    (SelfConsistency(), "self-consistency", {"strategy": "self-consistency", "tie_break": "first", "early_stop": False}),
    (SelfConsistency(tie_break="logprob", early_stop=True), "self-consistency early-stop tie=logprob",
     {"strategy": "self-consistency", "tie_break": "logprob", "early_stop": True}),
    (BestOfN(scorer="logprob"), "best-of-n logprob", {"strategy": "best-of-n", "scorer": "logprob"}),
    (SelfRefine(rounds=2, scorer="heuristic"), "self-refine rounds=2 heuristic", {"strategy": "self-refine", "rounds": 2, "scorer": "heuristic"}),
]  # fmt: skip


@pytest.mark.parametrize(("strategy", "label", "settings"), STRATEGY_TABLE)
def test_each_strategy_has_its_label_and_settings_and_reads_back_from_them(strategy, label, settings):
    assert (strategy.label, strategy.settings()) == (label, settings)
    header = {"model": "m", "cot": False, "temperature": 0.8, "n": 4, **settings}  # as a run saves it
    assert parse_strategy(header["strategy"], **header) == strategy
    assert STRATEGIES[strategy.name] is type(strategy)


def test_parse_strategy_takes_the_options_a_strategy_has_and_ignores_the_rest():
    flags = {"rounds": 3, "scorer": "judge", "tie_break": "logprob", "early_stop": True}  # every CLI flag
    assert parse_strategy("independent", **flags) == Independent()
    assert parse_strategy("self-consistency", **flags) == SelfConsistency(tie_break="logprob", early_stop=True)
    assert parse_strategy("best-of-n", **flags) == BestOfN(scorer="judge")
    assert parse_strategy("self-refine", **flags) == SelfRefine(rounds=3, scorer="judge")
    with pytest.raises(ValueError, match="unknown strategy 'beam'"):
        parse_strategy("beam")


@pytest.mark.parametrize(
    ("make", "message"),
    [(lambda: SelfConsistency(tie_break="last"), "tie_break"), (lambda: BestOfN(scorer="length"), "unknown scorer"),
     (lambda: SelfRefine(rounds=-1), "rounds >= 0"), (lambda: SelfRefine(scorer="votes"), "unknown scorer")],
)  # fmt: skip
def test_bad_strategy_options_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_method_label_adds_cot_and_the_decoding():
    assert method_label({"strategy": "independent", "cot": True, "temperature": 0.0}) == "independent +cot greedy"
    assert method_label({"strategy": "best-of-n", "scorer": "heuristic", "n": 4, "temperature": 0.8}) == "best-of-n heuristic n=4 T=0.8"
    assert method_label({"scoring": "loglik", "kind": "base"}) == "letter likelihood"
    # results of the former `eval math500`: its greedy, cot and sample strategies are independent samples
    assert method_label({"strategy": "cot", "cot": True, "temperature": 0.0}) == "independent +cot greedy"
    assert method_label({"strategy": "self-consistency", "n": 8, "tie_break": "first", "temperature": 0.8}) == "self-consistency n=8 T=0.8"


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


def evaluate(setup, name, *extra):
    checkpoint, data, root = setup
    out = root / name
    args = ["eval", "run", "--bench", "math500", "--model", str(checkpoint), "--data", str(data), "--max-new-tokens", "16",
            "--protocol", "greedy", "--batch-size", "4", "--device", "cpu", "--seed", "5", "--out", str(out), *extra]  # fmt: skip
    assert main(args) == 0
    return read_task(out, "math500")


def without_time(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def test_greedy_and_cot_are_right_and_spend_the_short_answer(setup):
    _, greedy = evaluate(setup, "greedy")
    assert all(r["correct"] == 1 and r["tokens"] == 6 and len(r["samples"]) == 1 and "answer" not in r for r in greedy)
    _, cot = evaluate(setup, "cot", "--cot")
    assert all(r["prompt"].endswith("Explain step by step.") for r in cot)


def test_self_consistency_records_votes_and_all_samples(setup):
    settings, records = evaluate(setup, "sc", "--strategy", "self-consistency", "--n", "6", "--temperature", "0.8")
    for record in records:
        samples = record["samples"]
        assert len(samples) == 6 and record["tokens"] == sum(s["tokens"] for s in samples)
        votes = record["details"]["votes"]
        counts = {v["answer"]: v["count"] for v in votes}
        assert counts.get("7", 0) == sum(s["extracted"] == "7" for s in samples)
        assert votes[0]["count"] == max(counts.values()) and all(isinstance(s["mean_logprob"], float) for s in samples)
        assert record["answer"]["sample"] == votes[0]["samples"][0]
        assert record["answer"]["extracted"] == samples[record["answer"]["sample"]]["extracted"] == votes[0]["answer"]
    assert settings["strategy"] == "self-consistency" and settings["n"] == 6 and settings["temperature"] == 0.8
    _, again = evaluate(setup, "sc-again", "--strategy", "self-consistency", "--n", "6", "--temperature", "0.8")
    assert without_time(again) == without_time(records)  # deterministic records


def test_early_stop_keeps_the_finished_samples_and_counts_every_token(setup):
    _, records = evaluate(setup, "sc-early", "--strategy", "self-consistency", "--n", "8", "--temperature", "0.8", "--early-stop")
    stopped = [r for r in records if r["details"]["stopped_early"]]
    assert stopped, "the scripted model agrees on 7 fast: some problem stops early"
    for record in stopped:
        cancelled = record["details"]["cancelled"]
        assert cancelled > 0 and len(record["samples"]) == 8 - cancelled
        assert all(s["finish_reason"] != "cancelled" for s in record["samples"])
        assert record["tokens"] >= sum(s["tokens"] for s in record["samples"])
        assert all(member < len(record["samples"]) for vote in record["details"]["votes"] for member in vote["samples"])


def test_best_of_n_picks_the_top_scored_candidate(setup):
    _, records = evaluate(setup, "bon", "--strategy", "best-of-n", "--n", "4", "--temperature", "0.8", "--scorer", "heuristic")
    for record in records:
        scores = [s["score"] for s in record["samples"]]
        assert record["answer"]["sample"] == scores.index(max(scores))
        assert record["tokens"] == sum(s["tokens"] for s in record["samples"])
    _, judged = evaluate(setup, "bon-judge", "--strategy", "best-of-n", "--n", "2", "--temperature", "0.8", "--scorer", "judge")
    for record in judged:  # judge replies (6 tokens each) count as spent
        assert record["tokens"] == sum(s["tokens"] for s in record["samples"]) + 6 * 2


def test_self_refine_records_each_round(setup):
    _, records = evaluate(setup, "refine", "--strategy", "self-refine", "--rounds", "2", "--scorer", "logprob")
    for record in records:
        [round_] = record["details"]["rounds"]  # identical revision: no improvement, so it stops after one
        assert not round_["improved"] and record["answer"]["sample"] == 0 and len(record["samples"]) == 1
        assert record["tokens"] == 6 + round_["tokens"] and record["answer"]["correct"]


def test_a_sample_and_bad_combinations(setup, capsys):
    _, records = evaluate(setup, "sample", "--temperature", "0.8")
    assert {r["tokens"] for r in records} <= {6, 6 + len(PREAMBLE)}
    checkpoint, data, root = setup
    base = ["eval", "run", "--bench", "math500", "--model", str(checkpoint), "--data", str(data), "--out", str(root / "bad")]
    assert main([*base, "--strategy", "self-consistency", "--n", "4"]) == 2
    assert "temperature above 0" in capsys.readouterr().err
    assert main([*base, "--strategy", "self-refine", "--n", "4", "--temperature", "0.8"]) == 2
    assert "refines one sample per problem" in capsys.readouterr().err
    assert not (root / "bad").exists()


def test_an_empty_dataset_is_nothing_to_evaluate_and_writes_nothing(setup, capsys):
    checkpoint, _, root = setup
    empty = root / "empty.jsonl"
    empty.write_text("")
    out = root / "empty-results"
    assert main(["eval", "run", "--bench", "math500", "--model", str(checkpoint), "--data", str(empty), "--out", str(out)]) == 2
    assert "nothing to evaluate" in capsys.readouterr().err and not (out / "math500.jsonl").exists()
    out.mkdir(exist_ok=True)
    (out / "math500.jsonl").write_text('{"settings": {"task": "math500"}}\n')
    assert main(["eval", "score", str(out)]) == 2
    assert "nothing to score" in capsys.readouterr().err


def test_compare_tabulates_the_methods_and_plots(setup, capsys):
    evaluate(setup, "cmp-greedy")
    evaluate(setup, "cmp-sc", "--strategy", "self-consistency", "--n", "3", "--temperature", "0.8")
    root = setup[2]
    plot = root / "compare.png"
    capsys.readouterr()
    assert main(["eval", "compare", str(root / "cmp-greedy"), str(root / "cmp-sc"), "--plot", str(plot)]) == 0
    table = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in table if line.startswith("math500 ") and "%" in line]
    assert rows[0][:7] == ["math500", "A", "independent", "greedy", "4", "100.0%", "±"]
    assert rows[1][:6] == ["math500", "B", "self-consistency", "n=3", "T=0.8", "4"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluation_prompts_use_the_checkpoints_own_chat_template(setup, tmp_path):
    from reasoning.evaluation.benchmarks import load_benchmark
    from reasoning.evaluation.protocols import get_protocol
    from reasoning.evaluation.run import evaluate as run_evaluation
    from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer

    checkpoint, data, _ = setup
    template = "{% for m in messages %}<<{{ m['content'] }}>>{% endfor %}{% if add_generation_prompt %}REPLY:{% endif %}"
    tokenizer = Qwen3Tokenizer(build_offline_tokenizer(), chat_template=template)
    model = scripted.scripted_model(answer_script())
    task = load_benchmark("math500", data=data, limit=1)
    protocol = get_protocol("greedy").with_overrides(max_new_tokens=4)
    run_evaluation(model, tokenizer, [task], tmp_path / "t", model_name="m", kind="reasoning", protocol=protocol, progress=False)
    [record] = read_task(tmp_path / "t", "math500")[1]
    assert record["prompt"].startswith("<<You are a helpful math assistant.") and record["prompt"].endswith(">>REPLY:")
