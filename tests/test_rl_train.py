"""GRPO end to end on the toy task: it learns, it resumes exactly, its checkpoints load anywhere."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from reasoning.rl.config import GRPOConfig
from reasoning.rl.metrics import TIMING, moving_average, plot_metrics, read_metrics
from reasoning.rl.tasks import addition_problems, toy_addition_task, toy_tokenizer
from reasoning.rl.trainer import prepare, step_problems, train


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest


def mean(values) -> float:
    return sum(values) / len(values)


def test_toy_addition_reward_rises_from_below_03_to_above_08(tmp_path):
    task = toy_addition_task()
    config = GRPOConfig.from_name("toy-addition", steps=150, checkpoint_every=0, eval_every=0)
    rows = train(prepare(task.model, task.tokenizer, config), task.train, tmp_path, prompt_fn=task.prompt_fn)
    rewards = [row["reward_mean"] for row in rows]
    assert 0 < mean(rewards[:5]) < 0.3
    assert mean(rewards[-10:]) > 0.8
    assert rows[-1]["entropy"] < rows[0]["entropy"]  # the policy sharpened


SMALL = GRPOConfig.from_name(
    "toy-addition", steps=6, prompts_per_step=8, group_size=4, checkpoint_every=3, eval_every=3, eval_limit=5,
    beta=0.05, mu=2, dynamic_sampling="refill", lr=3e-3,
)  # fmt: skip


def comparable(rows):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def test_resume_equals_uninterrupted_run(tmp_path):
    task = toy_addition_task(warmup_steps=30)
    whole = prepare(task.model, task.tokenizer, SMALL)
    train(whole, task.train, tmp_path / "whole", prompt_fn=task.prompt_fn, eval_problems=task.held_out)

    task = toy_addition_task(warmup_steps=30)
    first = prepare(task.model, task.tokenizer, dataclasses.replace(SMALL, steps=3))
    train(first, task.train, tmp_path / "split", prompt_fn=task.prompt_fn, eval_problems=task.held_out)
    torch.manual_seed(1234)  # the resumed run must restore every generator itself
    task = toy_addition_task(warmup_steps=30)
    second = prepare(task.model, task.tokenizer, SMALL)
    train(second, task.train, tmp_path / "split", prompt_fn=task.prompt_fn, eval_problems=task.held_out, resume=True)

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
    task = toy_addition_task(warmup_steps=5)
    config = dataclasses.replace(SMALL, steps=1, beta=0.0, mu=1, dynamic_sampling="off", eval_every=0)
    train(prepare(task.model, task.tokenizer, config), task.train, tmp_path, prompt_fn=task.prompt_fn)
    changed = prepare(toy_addition_task(warmup_steps=5).model, task.tokenizer, dataclasses.replace(config, steps=2, lr=1e-4))
    with pytest.raises(ValueError, match="settings differ .* lr"):
        train(changed, task.train, tmp_path, prompt_fn=task.prompt_fn, resume=True)
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        train(changed, task.train, tmp_path / "empty", prompt_fn=task.prompt_fn, resume=True)


def test_checkpoint_loads_in_load_pretrained_and_transformers(tmp_path):
    import transformers

    from reasoning.checkpoint import load_pretrained

    task = toy_addition_task(warmup_steps=5)
    config = dataclasses.replace(SMALL, steps=1, beta=0.0, mu=1, dynamic_sampling="off", eval_every=0)
    run = prepare(task.model, task.tokenizer, config)
    train(run, task.train, tmp_path, prompt_fn=task.prompt_fn)
    directory = tmp_path / "checkpoints" / "step-000001"
    model, tokenizer = load_pretrained(directory, device="cpu", dtype=torch.float32)
    assert tokenizer.encode("12+3=\\boxed{15}") == task.tokenizer.encode("12+3=\\boxed{15}")
    ids = torch.tensor([task.tokenizer.encode("3+4=\\boxed{7}")])
    with torch.no_grad():
        ours, loaded = run.model(ids), model(ids)
        theirs = transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)(ids).logits
    assert torch.equal(ours, loaded)
    assert torch.allclose(ours, theirs, atol=1e-4)


def test_step_problems_cycle_through_seeded_epochs():
    problems = addition_problems(10)
    steps = [step_problems(problems, step, 4, seed=0) for step in (1, 2, 3)]
    first_epoch = steps[0] + steps[1] + steps[2][:2]
    assert sorted(p.id for p in first_epoch) == sorted(p.id for p in problems)
    assert step_problems(problems, 2, 4, seed=0) == steps[1]
    assert step_problems(problems, 1, 4, seed=1) != steps[0]


def test_toy_tokenizer_round_trips_and_has_qwen3_specials():
    tokenizer = toy_tokenizer()
    ids = tokenizer.encode("12+7=\\boxed{19}")
    assert len(ids) == 9 and tokenizer.decode(ids) == "12+7=\\boxed{19}"  # "\\boxed{" is one token
    assert tokenizer.decode(ids + [tokenizer.eos_token_id], skip_special_tokens=True) == "12+7=\\boxed{19}"
    assert tokenizer.vocab_size <= 128 and tokenizer.think_start_id is not None


def test_cli_trains_toy_task_then_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from reasoning.cli import main

    out = tmp_path / "run"
    argv = ["train", "grpo", "--task", "toy-addition", "--steps", "2", "--prompts-per-step", "4", "--group-size", "4",
            "--eval-every", "0", "--scale-rewards", "false", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert "step     2 reward" in capsys.readouterr().out
    saved = json.loads((out / "checkpoints" / "step-000002" / "trainer_state.json").read_text())
    assert saved["config"]["scale_rewards"] is False and saved["config"]["group_size"] == 4
    assert main(["plot", str(out / "metrics.csv"), "--out", str(tmp_path / "curves.png")]) == 0
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["train", "grpo", "--task", "math", "--out", str(out)]) == 2  # no --model: one clear line


def test_moving_average_by_hand():
    assert moving_average([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    with pytest.raises(FileNotFoundError):
        plot_metrics("missing.csv", "x.png")
