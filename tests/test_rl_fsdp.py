"""GRPO on 2 processes (gloo, CPU, FSDP2 through `reasoning.training.fsdp`): a full run completes,
and one update equals a single process's."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from conftest import free_port
from reasoning.generation import GenerationConfig
from reasoning.rl import groups
from reasoning.rl.config import GRPOConfig
from reasoning.rl.groups import step_problems
from reasoning.rl.losses import group_advantages
from reasoning.rl.metrics import TIMING
from reasoning.rl.rewards import default_rewards, score
from reasoning.rl.rollout import generate_rollouts, pack
from reasoning.rl.step import grpo_step, update
from reasoning.rl.trainer import prepare, train
from reasoning.training import fsdp
from reasoning.training.metrics import read_metrics
from reasoning.training.toy import toy_setting

CONFIG = GRPOConfig.from_name("toy-addition", steps=2, prompts_per_step=4, group_size=4, checkpoint_every=0, eval_every=0, micro_batch_size=3, max_grad_norm=0.5)  # fmt: skip
# GRPO's per-sequence mean with rows 1, 6 and 11 cut by the budget and masked: the normaliser counts them, on all ranks.
MASKED = dataclasses.replace(CONFIG, aggregation="sequence", mask_truncated=True)
# A KL term and two passes: the reference's and the old policy's no-grad passes run under FSDP too,
# for a frozen copy and for LoRA's model with its adapters disabled.
KL = {"full": dataclasses.replace(CONFIG, beta=0.04, mu=2), "lora": dataclasses.replace(CONFIG, beta=0.04, mu=2, lora_rank=4, lora_alpha=8)}
# GSPO's sequence ratios: their mean, min and max reduced over ranks by name (the min as a negated max).
KL["gspo"] = dataclasses.replace(KL["full"], loss="gspo", eps_low=3e-4, eps_high=4e-4)


def fixed_batch(toy):
    """Rollouts of 4 prompts x 4 samples, the same in every process (same weights, same seed)."""
    problems = toy.train.problems[:4]
    results = generate_rollouts(toy.model, toy.tokenizer, [p.question for p in problems], GenerationConfig(n=4, max_new_tokens=8, temperature=1.0, seed=7))
    rewards, _ = score([r.text for r in results], [p for p in problems for _ in range(4)], default_rewards(toy.train))
    return results, torch.tensor(rewards)


def truncate_some(results):
    return [dataclasses.replace(r, finish_reason="length") if i in (1, 6, 11) else r for i, r in enumerate(results)]


def one_update(toy, results, rewards, chosen, config=CONFIG):
    """prepare + one `update` on the chosen groups of the fixed batch; the learner."""
    rows = [g * 4 + i for g in chosen for i in range(4)]
    learner = prepare(toy.model, toy.tokenizer, config)
    batch = pack([results[i] for i in rows], learner.pad_id)
    stats = update(learner, batch, group_advantages(rewards[rows], 4), torch.ones(len(rows)))
    return learner, stats


def worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        toy = toy_setting(warmup_steps=20)
        results, rewards = fixed_batch(toy)
        learner, stats = one_update(toy, results, rewards, chosen=[rank, rank + 2])  # this rank's prompts: rank::2
        state = fsdp.full_model_state(learner.model)
        _, masked_stats = one_update(toy_setting(warmup_steps=20), truncate_some(results), rewards, [rank, rank + 2], MASKED)
        kl_stats = {name: one_update(toy_setting(warmup_steps=20), results, rewards, [rank, rank + 2], c)[1] for name, c in KL.items()}
        row = skipping_step(toy_setting(warmup_steps=20))
        if rank == 0:
            save_file({k: v.contiguous() for k, v in state.items()}, f"{out}/after_update.safetensors")
            Path(f"{out}/stats.json").write_text(json.dumps({"plain": stats, "masked": masked_stats, "kl": kl_stats, "row": row}))
        toy = toy_setting(warmup_steps=20)
        train(prepare(toy.model, toy.tokenizer, CONFIG), toy.train, f"{out}/run")
        longer = dataclasses.replace(CONFIG, steps=4)  # resume the 2-step run to 4, and run 4 steps at once
        for directory, resume in (("run", True), ("whole", False)):
            toy = toy_setting(warmup_steps=20)
            train(prepare(toy.model, toy.tokenizer, longer), toy.train, f"{out}/{directory}", resume=resume)
    finally:
        dist.destroy_process_group()


def skipping_step(toy):
    """One dynamic-sampling step where 3 of the 4 groups have equal rewards (0), the other 0, 1, 0, 1:
    rank 0's two groups are both skipped (it trains on a placeholder of weight 0), rank 1 keeps one."""
    chosen = step_problems(toy.train.problems, 1, 4, CONFIG.seed)
    equal = {chosen[i].id for i in (0, 2, 3)}

    def alternating(completions, problems, rewards):
        totals = [0.0 if p.id in equal else float(i % 2) for i, p in enumerate(problems)]
        return totals, {"correct": totals}

    groups.score = alternating  # this process only
    learner = prepare(toy.model, toy.tokenizer, dataclasses.replace(CONFIG, dynamic_sampling="skip"))
    row, _ = grpo_step(learner, toy.train, 1, default_rewards(toy.train))
    return row


@pytest.mark.slow  # two processes, each starting torch
@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed with gloo")
def test_two_process_fsdp_run_completes_and_matches_a_single_process_update(tmp_path):
    mp.spawn(worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        toy = toy_setting(warmup_steps=20)
        before = {k: v.clone() for k, v in toy.model.state_dict().items()}
        results, rewards = fixed_batch(toy)
        learner, single_stats = one_update(toy, results, rewards, chosen=[0, 1, 2, 3])
        single = learner.model.state_dict()
        _, single_masked = one_update(toy_setting(warmup_steps=20), truncate_some(results), rewards, [0, 1, 2, 3], MASKED)
        single_kl = {name: one_update(toy_setting(warmup_steps=20), results, rewards, [0, 1, 2, 3], c)[1] for name, c in KL.items()}
    finally:
        torch.set_num_threads(threads)
    sharded = load_file(str(tmp_path / "after_update.safetensors"))
    saved = json.loads((tmp_path / "stats.json").read_text())
    sharded_stats = saved["plain"]
    assert sharded.keys() == single.keys()
    for name in single:
        assert not torch.equal(single[name], before[name]) or name.endswith("norm.weight"), name  # the step moved it
        # AdamW's first step moves every weight by about lr; the two runs agree to 5% of that
        # (where a gradient is near AdamW's eps, its step follows the summation order closely: one
        # weight of q_proj moves 2.1% differently; a lost rank's gradient would move many by ~lr,
        # and the gradient's scale, which AdamW hides, is checked through grad_norm below).
        assert torch.allclose(sharded[name], single[name], rtol=0, atol=0.05 * CONFIG.lr), name
    for key in ("loss", "grad_norm", "entropy"):  # the gradient itself, before AdamW normalises it away
        assert sharded_stats[key] == pytest.approx(single_stats[key], rel=1e-4, abs=1e-7), key
        assert saved["masked"][key] == pytest.approx(single_masked[key], rel=1e-4, abs=1e-7), key
    for name, stats in single_kl.items():
        assert stats["kl"] > 0, name  # the second pass has moved away from the reference
        for key in ("loss", "grad_norm", "kl", "seq_ratio_mean", "seq_ratio_min", "seq_ratio_max", "seq_clip_fraction"):
            if stats[key] is not None or saved["kl"][name][key] is not None:
                assert saved["kl"][name][key] == pytest.approx(stats[key], rel=1e-4, abs=1e-7), (name, key)
    row = saved["row"]
    assert (row["groups_used"], row["groups_skipped"]) == (1, 3)
    assert row["reward_mean"] == row["accuracy"] == 2 / 16
    rows = read_metrics(tmp_path / "run" / "metrics.csv")
    assert [row["step"] for row in rows] == [1, 2, 3, 4]
    assert rows[0]["rollout_tokens"] > 4 * 4 * 3  # both ranks' rollouts are counted
    assert (tmp_path / "run" / "checkpoints" / "step-000002" / "model.safetensors").is_file()
    # The resumed 2-process run continues as the uninterrupted one does.
    whole = read_metrics(tmp_path / "whole" / "metrics.csv")
    for resumed, straight in zip(rows, whole, strict=True):
        for key, value in straight.items():
            if key not in TIMING and value is not None:
                assert resumed[key] == pytest.approx(value, rel=1e-5, abs=1e-7), (straight["step"], key)
    final = [load_file(str(tmp_path / d / "checkpoints" / "step-000004" / "model.safetensors")) for d in ("run", "whole")]
    for name, tensor in final[1].items():
        assert torch.allclose(final[0][name], tensor, rtol=1e-5, atol=1e-7), name
