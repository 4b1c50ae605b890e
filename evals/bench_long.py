"""Long generations under a fixed KV-cache budget: the paged engine against the row-per-request
engine it replaced, in one run.

    python evals/bench_long.py                      # 64 requests, 4,096-token budget, ~10 minutes on 2 cores
    python evals/bench_long.py --requests 16 --budget 1024   # a quick look

Every request may generate up to --budget tokens; each stops at its own natural length, drawn
log-normal (median --median, shape --sigma, seeded), as reasoning traces end: most far short of
the budget, a few long. Neither engine knows the lengths in advance: a request that reaches its
length is cancelled, which frees its memory exactly as an end-of-sequence token would. The KV
memory is the same for both: --rows full-length rows (prompt + budget) of the old engine.

The old engine (reasoning/generation/engine.py at commit f0c13f2, read from git) gives each
request a row of the longest length, so the budget holds --rows requests at once. The paged
engine admits by the blocks actually held. The model is a random-weight Qwen3 of --preset
(default: one small layer with the full 151,936-token vocabulary; use 0.6B on a GPU). Prints
tokens/s and forward passes of both, the ratios, the peak memory the paged engine held and its
live sequences over time, and the bound the longest request sets: no engine decodes it in fewer
steps than its length. On a GPU a decode step costs about the same for 8 rows as for 64, so the
ratio of forward passes is the ratio of time; on a CPU a step's compute grows with its rows
(the LM head alone is 39 MFLOP a row here), so the time ratio falls short of it.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from reasoning.device import describe
from reasoning.generation.engine import Engine
from reasoning.generation.request import Request
from reasoning.generation.sampling import SamplingParams, request_key
from reasoning.model.config import Qwen3Config
from reasoning.model.paged import bytes_per_token
from reasoning.model.qwen3 import Qwen3Model

OLD_ENGINE = "f0c13f2"
SMALL = Qwen3Config(
    vocab_size=151_936, hidden_size=128, intermediate_size=256, num_layers=1, num_heads=2, num_kv_heads=1,
    head_dim=64, max_position_embeddings=40_960,
)  # fmt: skip


def old_engine_module(source_file: Path | None = None):
    """The engine before paging as a module of its own: from `source_file`, or read from git."""
    root = Path(__file__).resolve().parents[1]
    if source_file is not None:
        source = source_file.read_text()
    else:
        source = subprocess.run(
            ["git", "show", f"{OLD_ENGINE}:reasoning/generation/engine.py"], cwd=root, capture_output=True, text=True, check=True
        ).stdout
    path = Path(tempfile.mkdtemp()) / "engine_before_paging.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("engine_before_paging", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def workload(requests: int, median: float, sigma: float, budget: int, seed: int, vocab: int) -> list[tuple[list[int], int]]:
    """(prompt ids, natural length) per request: prompts of 32-128 tokens, log-normal lengths."""
    generator = torch.Generator().manual_seed(seed)
    jobs = []
    for _ in range(requests):
        length = int(torch.randint(32, 129, (1,), generator=generator))
        natural = int((torch.randn(1, generator=generator) * sigma).exp() * median)
        jobs.append((torch.randint(0, vocab, (length,), generator=generator).tolist(), max(1, min(budget, natural))))
    return jobs


def run(engine, request_type, jobs: list[tuple[list[int], int]], budget: int) -> tuple[float, int, int]:
    """Seconds, tokens and forward passes to generate every job, each request cancelled at its natural length."""
    requests = [request_type(prompt, budget, request_key(0, index)) for index, (prompt, _) in enumerate(jobs)]
    natural = {id(request): length for request, (_, length) in zip(requests, jobs)}
    start, passes = time.perf_counter(), 0
    for stepped in engine.run([[request] for request in requests], SamplingParams()):
        passes += 1
        for request in stepped:
            if len(request.tokens) >= natural[id(request)]:
                request.cancel()
    return time.perf_counter() - start, sum(len(request.tokens) for request in requests), passes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default=None, help="a Qwen3 preset (default: one small layer)")
    parser.add_argument("--vocab", type=int, default=None, help="vocabulary size (default: the preset's, 151,936)")
    parser.add_argument("--dtype", default="float32", choices=["bfloat16", "float32"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--budget", type=int, default=4096, help="max new tokens per request")
    parser.add_argument("--median", type=float, default=1200, help="median natural length")
    parser.add_argument("--sigma", type=float, default=0.4, help="log-normal shape of the lengths")
    parser.add_argument("--rows", type=int, default=8, help="the KV budget, in full-length rows")
    parser.add_argument("--block-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--old-engine", type=Path, help="the old engine's source (default: read from git at " + OLD_ENGINE + ")")
    args = parser.parse_args()

    torch.manual_seed(0)
    device = torch.device(args.device)
    config = Qwen3Config.from_name(args.preset) if args.preset else SMALL
    if args.vocab:
        config = dataclasses.replace(config, vocab_size=args.vocab)
    with torch.device(device):
        model = Qwen3Model(config).to(getattr(torch, args.dtype)).eval()
    jobs = workload(args.requests, args.median, args.sigma, args.budget, args.seed, config.vocab_size)
    lengths = sorted(length for _, length in jobs)
    full_row = 128 + args.budget
    cache_tokens = args.rows * full_row
    per_token = bytes_per_token(config, model.embed_tokens.weight.dtype)
    print(f"bench_long: {args.preset or 'small 1-layer'} random weights, vocabulary {config.vocab_size}, {args.dtype}, {describe(device)}")
    print(f"{args.requests} requests, budget {args.budget}, natural lengths median {lengths[len(lengths) // 2]}, "
          f"mean {sum(lengths) / len(lengths):.0f}, max {lengths[-1]} ({sum(lengths)} tokens)")  # fmt: skip
    print(f"KV budget: {cache_tokens} tokens = {args.rows} rows of {full_row} ({cache_tokens * per_token / 2**20:.0f} MiB)")

    old = old_engine_module(args.old_engine)
    old_engine = old.Engine(model, max_batch_size=args.requests, max_cache_tokens=cache_tokens)
    paged = Engine(model, max_batch_size=args.requests, max_cache_tokens=cache_tokens, block_size=args.block_size, compile=False)
    warm = jobs[:2]
    run(old_engine, old.Request, [(p, 4) for p, _ in warm], 8)
    run(paged, Request, [(p, 4) for p, _ in warm], 8)

    old_seconds, old_tokens, old_passes = run(old_engine, old.Request, jobs, args.budget)
    paged_seconds, paged_tokens, paged_passes = run(paged, Request, jobs, args.budget)
    assert old_tokens == paged_tokens == sum(lengths), (old_tokens, paged_tokens)
    stats = paged.stats
    print(f"old engine (rows):  {old_tokens / old_seconds:8.1f} tokens/s  ({old_seconds:.1f} s, {old_passes} forward passes, "
          f"{args.rows} sequences at most)")  # fmt: skip
    print(f"paged engine:       {paged_tokens / paged_seconds:8.1f} tokens/s  ({paged_seconds:.1f} s, {paged_passes} forward passes, "
          f"{max(stats.live)} sequences at most)")  # fmt: skip
    print(f"ratio paged/old:    {old_seconds / paged_seconds:.2f}x in time, {old_passes / paged_passes:.2f}x in forward passes")
    steps = len(stats.live)
    print(f"paged: {steps} decode steps (the longest request alone needs {lengths[-1]}), {stats.preemptions} preemptions, "
          f"peak {stats.peak_blocks * stats.block_size} of {cache_tokens} cache tokens held "
          f"({stats.peak_blocks * stats.block_size * per_token / 2**20:.0f} MiB)")  # fmt: skip
    print("live sequences / cache tokens held, by tenth of the run:")
    for tenth in range(10):
        at = min(steps - 1, tenth * steps // 10)
        print(f"  step {at:6d}: {stats.live[at]:3d} live, {stats.blocks[at] * stats.block_size:7d} tokens")
    print(f"lower bounds on decode steps: the old engine {math.ceil(sum(lengths) / args.rows)} (all tokens over {args.rows} rows), "
          f"any engine {lengths[-1]} (the longest request)")  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
