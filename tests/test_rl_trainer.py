"""GRPO end to end (`reasoning.rl.trainer`): it learns the toy task, it resumes exactly, its
checkpoints load anywhere, and on a benchmark its rewards are the evaluation's grades."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from reasoning.rl.config import GRPOConfig
from reasoning.rl.metrics import TIMING
from reasoning.rl.trainer import prepare, train
from reasoning.training.evaluate import task_evaluator
from reasoning.training.metrics import read_metrics
from reasoning.training.toy import toy_setting

BENCHMARKS = Path(__file__).parent / "data" / "benchmarks"

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest


SMALL = GRPOConfig.from_name(
    "toy-addition", steps=6, prompts_per_step=8, group_size=4, checkpoint_every=3, eval_every=3, eval_limit=5,
    beta=0.05, mu=2, dynamic_sampling="refill", lr=3e-3,
)  # fmt: skip


def comparable(rows):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def held_out_accuracy(toy, out, config=SMALL):
    """The periodic evaluation GRPO runs on the toy task: greedy accuracy on its held-out sums."""
    return task_evaluator(toy.tokenizer, toy.held_out.head(config.eval_limit), out, model_name="toy", max_new_tokens=config.max_new_tokens)


def test_resume_equals_uninterrupted_run(tmp_path):
    toy = toy_setting(warmup_steps=30)
    whole = prepare(toy.model, toy.tokenizer, SMALL)
    train(whole, toy.train, tmp_path / "whole", evaluate=held_out_accuracy(toy, tmp_path / "whole"))

    toy = toy_setting(warmup_steps=30)
    first = prepare(toy.model, toy.tokenizer, dataclasses.replace(SMALL, steps=3))
    train(first, toy.train, tmp_path / "split", evaluate=held_out_accuracy(toy, tmp_path / "split"))
    torch.manual_seed(1234)  # the resumed run must restore every generator itself
    toy = toy_setting(warmup_steps=30)
    second = prepare(toy.model, toy.tokenizer, SMALL)
    train(second, toy.train, tmp_path / "split", evaluate=held_out_accuracy(toy, tmp_path / "split"), resume=True)

    expected, got = read_metrics(tmp_path / "whole" / "metrics.csv"), read_metrics(tmp_path / "split" / "metrics.csv")
    assert [row["step"] for row in got] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(comparable(expected), comparable(got)):
        assert a.keys() == b.keys()
        for key in a:
            assert (a[key] is None and b[key] is None) or a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), (a["step"], key)
    assert all(row["kl"] is not None for row in got) and any(row["kl"] > 0 for row in got)
    assert any(row["clip_fraction"] > 0 for row in got)  # mu = 2: the second pass clips
    assert got[2]["eval_accuracy"] is not None and got[5]["eval_accuracy"] is not None
    for p, q in zip(whole.model.parameters(), second.model.parameters()):
        assert torch.allclose(p, q, rtol=1e-5, atol=1e-7)
    lines = (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 4, 5, 6]


def test_resume_refuses_other_settings_and_missing_checkpoints(tmp_path):
    toy = toy_setting(warmup_steps=5)
    config = dataclasses.replace(SMALL, steps=1, beta=0.0, mu=1, dynamic_sampling="off", eval_every=0)
    train(prepare(toy.model, toy.tokenizer, config), toy.train, tmp_path)
    changed = prepare(toy_setting(warmup_steps=5).model, toy.tokenizer, dataclasses.replace(config, steps=2, lr=1e-4))
    with pytest.raises(ValueError, match=rf"settings differ from the saved run: lr saved {config.lr}, now 0.0001$"):
        train(changed, toy.train, tmp_path, resume=True)
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        train(changed, toy.train, tmp_path / "empty", resume=True)

    state = next((tmp_path / "checkpoints").glob("step-*")) / "trainer_state.json"  # a run saved before `loss` existed
    saved = json.loads(state.read_text())
    del saved["config"]["loss"]
    state.write_text(json.dumps(saved))
    with pytest.raises(ValueError, match='loss saved "grpo", now "cispo"'):  # a missing field reads as its default
        train(prepare(toy_setting(warmup_steps=5).model, toy.tokenizer, dataclasses.replace(config, steps=2, loss="cispo")), toy.train,
              tmp_path, resume=True)  # fmt: skip
    rows = train(prepare(toy_setting(warmup_steps=5).model, toy.tokenizer, dataclasses.replace(config, steps=2)), toy.train,
                 tmp_path, resume=True)  # fmt: skip
    assert [row["step"] for row in rows] == [2]


def test_checkpoint_loads_in_load_pretrained_and_transformers(tmp_path):
    import transformers

    from reasoning.checkpoint import load_pretrained

    toy = toy_setting(warmup_steps=5)
    config = dataclasses.replace(SMALL, steps=1, beta=0.0, mu=1, dynamic_sampling="off", eval_every=0)
    learner = prepare(toy.model, toy.tokenizer, config)
    train(learner, toy.train, tmp_path)
    directory = tmp_path / "checkpoints" / "step-000001"
    model, tokenizer = load_pretrained(directory, device="cpu", dtype=torch.float32)
    assert tokenizer.encode("12+3=\\boxed{15}") == toy.tokenizer.encode("12+3=\\boxed{15}")
    ids = torch.tensor([toy.tokenizer.encode("3+4=\\boxed{7}")])
    with torch.no_grad():
        ours, loaded = learner.model.logits(learner.model(ids)), model.logits(model(ids))
        theirs = transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)(ids).logits
    assert torch.equal(ours, loaded)
    assert torch.allclose(ours, theirs, atol=1e-4)


def test_grpo_trains_on_a_benchmark_and_its_rewards_are_the_evaluations_grades(tmp_path, monkeypatch, capsys):
    """`train grpo --bench gsm8k --data-dir ...` on a scripted model that answers every question
    " \\boxed{18}" or " The answer is 3.": each reward it scores and logs is `Task.grade` of the
    same completion, a stated answer that is right included (GSM8K golds read after "####")."""
    import scripted

    from reasoning.checkpoint import save_pretrained
    from reasoning.cli import main
    from reasoning.evaluation.benchmarks import load_benchmark
    from reasoning.rl import groups

    tokenizer = scripted.tokenizer()
    model = scripted.answering(tokenizer, {" \\boxed{18}": scripted.SURE, " The answer is 3.": scripted.SURE})
    model_dir = save_pretrained(model, tokenizer, tmp_path / "scripted")
    scored = []

    def recording(completions, problems, rewards):
        totals, parts = score(completions, problems, rewards)
        scored.extend(zip(completions, problems, totals))
        return totals, parts

    score = groups.score
    monkeypatch.setattr(groups, "score", recording)
    out = tmp_path / "run"
    argv = ["train", "grpo", "--model", str(model_dir), "--bench", "gsm8k", "--data-dir", str(BENCHMARKS), "--steps", "1",
            "--prompts-per-step", "5", "--group-size", "8", "--max-new-tokens", "8", "--dtype", "float32", "--log-samples", "5",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err

    task = load_benchmark("gsm8k", data_dir=BENCHMARKS)
    assert len(scored) == 40 and {problem.id for _, problem, _ in scored} == {p.id for p in task.problems}
    for completion, problem, reward in scored:
        assert reward == float(task.grade(problem, completion).correct), (problem.answer, completion)
    assert {reward for *_, reward in scored} == {0.0, 1.0}
    assert any(reward == 1.0 and "\\boxed" not in completion for completion, _, reward in scored)  # "The answer is 3." for 3
    by_id = {problem.id: problem for problem in task.problems}
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 5
    for sample in samples:
        assert sample["reward"] == float(task.grade(by_id[sample["problem"]], sample["completion"]).correct), sample
    [row] = read_metrics(out / "metrics.csv")
    assert row["accuracy"] == pytest.approx(sum(reward for *_, reward in scored) / 40)
