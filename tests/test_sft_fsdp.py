"""Supervised fine-tuning on 2 processes (gloo, CPU, FSDP2 through `reasoning.training.fsdp`)
equals one process: the same losses, gradient norms, held-out loss and weights, with uneven
shares and idle micro-batches."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file

from conftest import free_port
from reasoning.sft import trainer
from reasoning.sft.config import SFTConfig
from reasoning.sft.data import tokenize
from reasoning.sft.toy import toy_student, toy_traces
from reasoning.training.metrics import read_metrics

# 7 sequences a step over 2 ranks: 4 and 3, in micro-batches of 3, so rank 1 has one idle pass.
CONFIG = SFTConfig.from_name("toy", steps=3, batch_size=7, micro_batch_size=3, eval_every=0, lr=1e-3)
LORA = SFTConfig.from_name("toy", steps=3, batch_size=7, micro_batch_size=3, eval_every=0, lr=1e-2, lora_rank=4, lora_alpha=8)


def run_toy(out: str, config: SFTConfig) -> None:
    toy = toy_student(seed=0)
    examples, _ = tokenize(toy_traces(toy), toy.tokenizer, max_length=64)
    learner = trainer.prepare(toy.model, toy.tokenizer, config)
    trainer.train(learner, examples[:60], out, eval_examples=examples[60:])


def worker(rank: int, port: int, out: str, cases: list[str]) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        for case in cases:
            run_toy(f"{out}/{case}", LORA if case == "lora" else CONFIG)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_process_runs(tmp_path_factory) -> Path:
    """Both cases' 2-process runs, one after the other in one pair of processes: starting
    torch in two processes and their process group costs seconds, once is enough."""
    cases = ["full"] + (["lora"] if importlib.util.find_spec("peft") else [])
    out = tmp_path_factory.mktemp("two")
    mp.spawn(worker, args=(free_port(), str(out), cases), nprocs=2, join=True)
    return out


@pytest.mark.slow  # two processes, each starting torch
@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed with gloo")
@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_two_process_fsdp_sft_matches_one_process(lora, tmp_path, two_process_runs):
    if lora:
        pytest.importorskip("peft")
    config, weights_file = (LORA, "adapter_model.safetensors") if lora else (CONFIG, "model.safetensors")
    sharded_run = two_process_runs / ("lora" if lora else "full")
    run_toy(str(tmp_path / "one"), config)
    two, one = read_metrics(sharded_run / "metrics.csv"), read_metrics(tmp_path / "one" / "metrics.csv")
    assert [row["step"] for row in two] == [1, 2, 3]
    for sharded, single in zip(two, one, strict=True):
        for key in ("loss", "grad_norm", "tokens", "sequences", "lr", "epoch"):
            assert sharded[key] == pytest.approx(single[key], rel=1e-4), (single["step"], key)
    assert two[-1]["eval_loss"] == pytest.approx(one[-1]["eval_loss"], rel=1e-4)
    weights = [load_file(str(d / "checkpoints" / "step-000003" / weights_file)) for d in (sharded_run, tmp_path / "one")]
    assert weights[0].keys() == weights[1].keys()
    for name, tensor in weights[1].items():
        # three AdamW steps move each weight by up to 3 lr; the runs agree to 2% of one step
        assert torch.allclose(weights[0][name], tensor, rtol=0, atol=0.02 * config.lr), name
    json.dumps(two)  # the rows are plain numbers
