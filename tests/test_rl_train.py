"""GRPO end to end on the toy task: it learns, it resumes exactly, its checkpoints load anywhere."""

from __future__ import annotations

import copy
import dataclasses
import json
import math

import pytest
import torch

from reasoning.generation.api import GenerationResult
from reasoning.logprobs import teacher_forced_logprobs
from reasoning.rl import trainer
from reasoning.rl.config import GRPOConfig
from reasoning.rl.losses import group_advantages, grpo_loss
from reasoning.rl.metrics import TIMING, moving_average, plot_metrics, read_metrics, reward_trend
from reasoning.rl.rollout import generate_rollouts, pack
from reasoning.rl.tasks import addition_problems, toy_addition_task, toy_tokenizer
from reasoning.rl.trainer import grpo_step, prepare, step_problems, train, update


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest


def mean(values) -> float:
    return sum(values) / len(values)


@pytest.mark.slow  # 150 steps: about 25 s
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
        ours, loaded = run.model.logits(run.model(ids)), model.logits(model(ids))
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
    printed = capsys.readouterr().out
    assert "step     2 reward" in printed
    rewards = [row["reward_mean"] for row in read_metrics(out / "metrics.csv")]
    assert f"mean reward {sum(rewards) / 2:.3f} over the first 2 steps, {sum(rewards) / 2:.3f} over the last 2 (of 2)" in printed
    saved = json.loads((out / "checkpoints" / "step-000002" / "trainer_state.json").read_text())
    assert saved["config"]["scale_rewards"] is False and saved["config"]["group_size"] == 4
    assert main(["plot", str(out / "metrics.csv"), "--out", str(tmp_path / "curves.png")]) == 0
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["train", "grpo", "--task", "math", "--out", str(tmp_path / "math")]) == 2  # no --model: one clear line
    assert "needs --model and --dataset" in capsys.readouterr().err


def test_reward_trend_averages_the_first_and_last_steps_by_step_number():
    rows = [{"step": step, "reward_mean": value} for step, value in [(3, 0.5), (1, 0.1), (2, 0.3), (4, 0.9)]]
    assert reward_trend(rows, first=2, last=3) == (
        "mean reward 0.200 over the first 2 steps, 0.567 over the last 3 (of 4)"
    )


def test_moving_average_by_hand():
    assert moving_average([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    with pytest.raises(FileNotFoundError):
        plot_metrics("missing.csv", "x.png")


def alternating_scores(equal_ids: set[str]):
    """A stand-in for rewards.score: 0 for every sample of a problem in equal_ids (a group of
    equal rewards), else 0, 1, 0, 1, ... by position (so every other group of 4 varies)."""

    def score(completions, problems, rewards):
        totals = [0.0 if p.id in equal_ids else float(i % 2) for i, p in enumerate(problems)]
        return totals, {"correct": totals}

    return score


def test_step_metrics_by_hand_with_dynamic_sampling(monkeypatch):
    """Every column of a step's row from its rollouts: 3 of 8 groups have equal rewards and are skipped."""
    task = toy_addition_task(warmup_steps=5)
    config = GRPOConfig.from_name("toy-addition", steps=1, prompts_per_step=8, group_size=4, dynamic_sampling="skip", micro_batch_size=5)
    run = prepare(task.model, task.tokenizer, config)
    chosen = step_problems(task.train, 1, 8, config.seed)
    equal = {chosen[i].id for i in (1, 4, 6)}
    monkeypatch.setattr(trainer, "score", alternating_scores(equal))
    generated = []

    def recorded(*args, **kwargs):
        generated.extend(generate_rollouts(*args, **kwargs))
        return generated

    monkeypatch.setattr(trainer, "generate_rollouts", recorded)  # "skip": one round of 32 rollouts
    before = copy.deepcopy(run.model)
    row, _ = grpo_step(run, task.train, 1, task.prompt_fn)

    assert (row["groups_used"], row["groups_skipped"]) == (5, 3)
    assert row["reward_mean"] == row["accuracy"] == 10 / 32  # 5 groups of 0, 1, 0, 1
    assert row["reward_std"] == pytest.approx(math.sqrt(10 / 32 - (10 / 32) ** 2))
    assert row["format"] is None and row["kl"] is None and row["clip_fraction"] == 0.0  # mu = 1: ratio 1
    lengths = [r.num_tokens for r in generated]
    assert row["rollout_tokens"] == sum(lengths) and row["response_length"] == pytest.approx(sum(lengths) / 32)
    assert row["truncated"] == pytest.approx(sum(r.finish_reason == "length" for r in generated) / 32)
    # The kept groups' token-mean loss at ratio 1, its gradient and the entropy, in one pass.
    kept = pack([r for g in range(8) if chosen[g].id not in equal for r in generated[4 * g : 4 * g + 4]], run.pad_id)
    advantages, mask = group_advantages(torch.tensor([0.0, 1.0] * 10), 4), kept.completion_mask
    logprobs, entropy = teacher_forced_logprobs(before, kept, config.temperature, with_entropy=True)
    (-(advantages[:, None] * logprobs * mask).sum() / mask.sum()).backward()
    grad_norm = torch.stack([p.grad.norm() for p in before.parameters()]).norm()
    assert row["loss"] == pytest.approx(float(-(advantages * mask.sum(dim=1)).sum() / mask.sum()), rel=1e-5, abs=1e-7)
    assert row["entropy"] == pytest.approx(float((entropy * mask).sum() / mask.sum()), rel=1e-5)
    assert row["grad_norm"] == pytest.approx(float(grad_norm), rel=1e-4)


def truncated_rollouts() -> list[GenerationResult]:
    """Two groups of 4 toy rollouts of lengths 3 2 4 4 | 1 4 2 3, rows 2 and 5 cut by a budget of 4."""
    lengths, ends = [3, 2, 4, 4, 1, 4, 2, 3], ["eos", "eos", "length", "eos", "eos", "length", "eos", "eos"]
    prompts = [toy_tokenizer().encode(text) for text in ("1+2=", "3+4=")]
    return [
        GenerationResult(i // 4, i % 4, tuple(prompts[i // 4]), tuple(range(10, 10 + n)), "", end, (0.0,) * n, (0.0,) * n)
        for i, (n, end) in enumerate(zip(lengths, ends))
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("aggregation", "expected"), [("sequence", 0.25 / 8), ("constant", 1.25 / (8 * 4)), ("token", 1.25 / 15)]
)  # fmt: skip
def test_update_normalises_by_every_sequence_even_fully_masked_ones(aggregation, expected):
    """Rows 2 and 5 are truncated and masked (mask_truncated); GRPO and Dr. GRPO still divide by
    all 8 rows (TRL's grpo and dr_grpo too), and micro-batches add up to the whole batch."""
    task, results = toy_addition_task(warmup_steps=0), truncated_rollouts()
    # Advantages .75 -.25 -.25 -.25 | .5 .5 -.5 -.5; at ratio 1 a row's token loss is -A. Unmasked rows:
    # sum of -A = 0.25 ("sequence": / 8 rows), sum of -A x length = 1.25 ("constant": / (8 x 4); "token": / 15 tokens).
    advantages = group_advantages(torch.tensor([1.0, 0, 0, 0, 1, 1, 0, 0]), 4, scale_by_std=False)
    config = GRPOConfig.from_name("toy-addition", group_size=4, max_new_tokens=4, aggregation=aggregation, mask_truncated=True)
    outcomes = []
    for micro_batch_size in (8, 3):
        run = prepare(copy.deepcopy(task.model), task.tokenizer, dataclasses.replace(config, micro_batch_size=micro_batch_size))
        stats = update(run, pack(results, run.pad_id), advantages, torch.ones(8))
        assert stats["loss"] == pytest.approx(expected, rel=1e-6)
        outcomes.append((stats, {name: p.grad for name, p in run.model.named_parameters()}))  # the (clipped) gradient
    (whole, whole_grads), (micro, micro_grads) = outcomes
    assert micro["grad_norm"] == pytest.approx(whole["grad_norm"], rel=1e-5)
    assert micro["entropy"] == pytest.approx(whole["entropy"], rel=1e-6)
    for name, grad in whole_grads.items():  # equal up to float32 summation order
        assert (micro_grads[name] - grad).abs().max() <= 1e-5 * grad.abs().max(), name


@pytest.mark.parametrize("aggregation", ["sequence", "constant", "token"])
def test_clip_fraction_is_the_share_of_loss_tokens_clipped(monkeypatch, aggregation):
    """Were every loss token clipped in both passes, the fraction is 1 whatever the aggregation
    (the clipped tokens' loss weights would sum to 15/32 under "constant")."""

    def all_clipped(*args, **kwargs):
        parts = grpo_loss(*args, **kwargs)
        return dataclasses.replace(parts, clipped_tokens=(args[3] != 0).sum())  # args[3]: the weights

    monkeypatch.setattr(trainer, "grpo_loss", all_clipped)
    task = toy_addition_task(warmup_steps=0)
    config = GRPOConfig.from_name("toy-addition", group_size=4, max_new_tokens=4, aggregation=aggregation, mask_truncated=True, mu=2, micro_batch_size=3)
    run = prepare(task.model, task.tokenizer, config)
    stats = update(run, pack(truncated_rollouts(), run.pad_id), torch.tensor([1.0, -1.0] * 4), torch.ones(8))
    assert stats["clip_fraction"] == 1.0
