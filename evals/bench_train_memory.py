"""Peak memory and speed of one supervised fine-tuning step: full fine-tuning against LoRA.

    python evals/bench_train_memory.py                    # 0.6B shape, bf16, one 1,024-token sequence
    python evals/bench_train_memory.py --checkpointing    # also with gradient checkpointing

Each variant runs in a fresh process (so one's peak cannot hide in another's), building a
random-weight Qwen3 of --preset, `reasoning.sft.trainer.prepare` (LoRA adapters on every
projection for the LoRA variant) and two `sft_step`s on one sequence of --length tokens (the
first allocates AdamW's state, the second is timed). Peak memory: on a GPU,
torch.cuda.max_memory_allocated; on a CPU, the process's peak resident memory less what it
held before the model was built, with glibc told to hand every freed block of 64 KiB or more
back to the system at once (MALLOC_MMAP_THRESHOLD_), so that the peak follows the live tensors
as the GPU figure does rather than what the allocator keeps cached. Full fine-tuning holds weights, gradients and AdamW's two
moments for every parameter (4 copies in bf16, with no float32 master copy); LoRA holds the
frozen weights once, and gradients and moments for the adapters only; both keep the
activations the backward pass needs (fewer with --checkpointing).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch

from reasoning.device import describe, get_device
from reasoning.model.config import Qwen3Config
from reasoning.model.qwen3 import Qwen3Model
from reasoning.sft import trainer
from reasoning.sft.config import SFTConfig
from reasoning.sft.data import Example


def measure(preset: str, length: int, rank: int, checkpointing: bool, dtype: str, device: str) -> dict:
    """One variant in this process: peak memory (GiB) and seconds of the second step."""
    device = get_device(device)
    before = _resident_bytes()
    torch.manual_seed(0)
    torch.set_default_dtype(getattr(torch, dtype))  # built in its dtype: a float32 copy first would set the peak
    with torch.device(device):
        model = Qwen3Model(Qwen3Config.from_name(preset))
    torch.set_default_dtype(torch.float32)
    config = SFTConfig(
        batch_size=1, micro_batch_size=1, max_length=length, dtype=dtype, lora_rank=rank, gradient_checkpointing=checkpointing,
    )  # fmt: skip
    learner = trainer.prepare(model, _Tokenizer(), config)
    prompt = 64
    ids = torch.randint(0, 150_000, (length,), generator=torch.Generator().manual_seed(0)).tolist()
    batch = [Example(tuple(ids[:prompt]), tuple(ids[prompt:]))]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    trainer.sft_step(learner, batch, config.lr)
    began = time.perf_counter()
    trainer.sft_step(learner, batch, config.lr)
    seconds = time.perf_counter() - began
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"peak_gib": peak / 2**30, "seconds": seconds, "trainable": trainable, "device": describe(device)}


class _Tokenizer:
    pad_token_id = 0


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="0.6B")
    parser.add_argument("--length", type=int, default=1024, help="tokens in the sequence (64 of them prompt)")
    parser.add_argument("--rank", type=int, default=16, help="LoRA rank")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--checkpointing", action="store_true", help="also measure both with gradient checkpointing")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one variant as JSON, run in its own process
    args = parser.parse_args()
    if args.child:
        rank, checkpointing = json.loads(args.child)
        print(json.dumps(measure(args.preset, args.length, rank, checkpointing, args.dtype, args.device)))
        return
    variants = [(0, False), (args.rank, False)] + ([(0, True), (args.rank, True)] if args.checkpointing else [])
    results = {}
    for rank, checkpointing in variants:
        command = [sys.executable, __file__, "--preset", args.preset, "--length", str(args.length), "--dtype", args.dtype,
                   "--device", args.device, "--child", json.dumps([rank, checkpointing])]  # fmt: skip
        env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}
        output = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
        results[rank, checkpointing] = json.loads(output.strip().splitlines()[-1])
    first = next(iter(results.values()))
    print(f"{first['device']}, {args.preset} shape, {args.dtype}, one sequence of {args.length} tokens, AdamW")
    print(f"{'variant':34s} {'trainable':>12s} {'peak GiB':>9s} {'steps/s':>8s} {'peak vs full':>13s}")
    for (rank, checkpointing), result in results.items():
        full = results[0, checkpointing]
        name = ("full fine-tuning" if rank == 0 else f"LoRA rank {rank}") + (" + checkpointing" if checkpointing else "")
        print(
            f"{name:34s} {result['trainable'] / 1e6:10.1f} M {result['peak_gib']:9.2f} {1 / result['seconds']:8.3f} "
            f"{result['peak_gib'] / full['peak_gib']:12.0%}"
        )


if __name__ == "__main__":
    main()
