"""GRPO on 2 processes (gloo, CPU, FSDP2): a full run completes, and one update equals a single process's."""

from __future__ import annotations

import dataclasses
import json
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from reasoning.rl import distributed
from reasoning.rl.config import GRPOConfig
from reasoning.rl.losses import group_advantages
from reasoning.rl.metrics import TIMING, read_metrics
from reasoning.rl.rewards import default_rewards, score
from reasoning.rl.rollout import generate_rollouts, pack
from reasoning.rl.tasks import toy_addition_task
from reasoning.rl.trainer import prepare, train, update

CONFIG = GRPOConfig.from_name("toy-addition", steps=2, prompts_per_step=4, group_size=4, checkpoint_every=0, eval_every=0, micro_batch_size=3, max_grad_norm=0.5)  # fmt: skip


def fixed_batch(task):
    """Rollouts of 4 prompts x 4 samples, the same in every process (same weights, same seed)."""
    problems = task.train[:4]
    results = generate_rollouts(task.model, task.tokenizer, [p.question for p in problems], group_size=4, max_new_tokens=8, temperature=1.0, seed=7)
    rewards, _ = score([r.text for r in results], [p for p in problems for _ in range(4)], default_rewards())
    return results, torch.tensor(rewards)


def one_update(task, results, rewards, groups):
    """prepare + one `update` on the given groups of the fixed batch; the run."""
    rows = [g * 4 + i for g in groups for i in range(4)]
    run = prepare(task.model, task.tokenizer, CONFIG)
    batch = pack([results[i] for i in rows], run.pad_id)
    stats = update(run, batch, group_advantages(rewards[rows], 4), torch.ones(len(rows)))
    return run, stats


def worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        task = toy_addition_task(warmup_steps=20)
        results, rewards = fixed_batch(task)
        run, stats = one_update(task, results, rewards, groups=[rank, rank + 2])  # this rank's prompts: rank::2
        state = distributed.full_model_state(run.model)
        if rank == 0:
            save_file({k: v.contiguous() for k, v in state.items()}, f"{out}/after_update.safetensors")
            Path(f"{out}/stats.json").write_text(json.dumps(stats))
        task = toy_addition_task(warmup_steps=20)
        train(prepare(task.model, task.tokenizer, CONFIG), task.train, f"{out}/run", prompt_fn=task.prompt_fn)
        longer = dataclasses.replace(CONFIG, steps=4)  # resume the 2-step run to 4, and run 4 steps at once
        for directory, resume in (("run", True), ("whole", False)):
            task = toy_addition_task(warmup_steps=20)
            train(prepare(task.model, task.tokenizer, longer), task.train, f"{out}/{directory}", prompt_fn=task.prompt_fn, resume=resume)
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed with gloo")
def test_two_process_fsdp_run_completes_and_matches_a_single_process_update(tmp_path):
    mp.spawn(worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        task = toy_addition_task(warmup_steps=20)
        before = {k: v.clone() for k, v in task.model.state_dict().items()}
        results, rewards = fixed_batch(task)
        run, single_stats = one_update(task, results, rewards, groups=[0, 1, 2, 3])
        single = run.model.state_dict()
    finally:
        torch.set_num_threads(threads)
    sharded = load_file(str(tmp_path / "after_update.safetensors"))
    sharded_stats = json.loads((tmp_path / "stats.json").read_text())
    assert sharded.keys() == single.keys()
    for name in single:
        assert not torch.equal(single[name], before[name]) or name.endswith("norm.weight"), name  # the step moved it
        # AdamW's first step moves every weight by about lr; the two runs agree to 2% of that
        # (a tiny gradient's sign can flip with the summation order, so exact equality is not expected).
        assert torch.allclose(sharded[name], single[name], rtol=0, atol=0.02 * CONFIG.lr), name
    for key in ("loss", "grad_norm", "entropy"):  # the gradient itself, before AdamW normalises it away
        assert sharded_stats[key] == pytest.approx(single_stats[key], rel=1e-4, abs=1e-7), key
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
