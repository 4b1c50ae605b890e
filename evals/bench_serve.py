"""The server under load: 64 concurrent streaming requests against one at a time, and against the
engine in-process on the same requests, so the gain of continuous batching across HTTP requests
and the cost of HTTP are both known.

    python evals/bench_serve.py                   # a small Qwen3 shape (about a minute on 2 cores)
    python evals/bench_serve.py --preset 0.6B     # the real 0.6B shape (random weights; minutes)

Writes a random-weight checkpoint in the Hugging Face layout (with the Qwen3 tokenizer) to a
temporary directory, starts `reasoning serve` on it (127.0.0.1, a free port, --max-batch-size
32), and sends the same greedy requests (token-id prompts of 20-200 tokens, long-tailed budgets)
three ways: (1) sequentially, one streaming request after another, for the first --sequential
of them; (2) all at once, streaming, through the official `openai` client; (3) in-process through
`generate` with the same batch size. Every concurrent completion is checked against the
in-process text. Prints the CPU, dtype, load average, requests/s and tokens/s of each, and the
ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import torch

from reasoning.checkpoint import save_pretrained
from reasoning.device import describe
from reasoning.generation import Prompt, generate
from reasoning.model.config import Qwen3Config
from reasoning.model.qwen3 import Qwen3Model
from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer

SMALL = dict(hidden_size=256, intermediate_size=768, num_layers=4, num_heads=4, num_kv_heads=2, head_dim=64)


def workload(requests: int, mean_new_tokens: float, seed: int) -> list[tuple[list[int], int]]:
    """Ragged prompts (20-200 tokens) with long-tailed budgets: log-normal, sigma 1, given mean."""
    generator = torch.Generator().manual_seed(seed)
    median = mean_new_tokens / math.exp(0.5)
    lengths = torch.randint(20, 201, (requests,), generator=generator)
    budgets = ((torch.randn(requests, generator=generator)).exp() * median).round().clamp(1, 8 * mean_new_tokens).long()
    return [(torch.randint(0, 150_000, (int(n),), generator=generator).tolist(), int(b)) for n, b in zip(lengths, budgets)]


def checkpoint(preset: str, dtype: torch.dtype, directory: Path) -> tuple[Qwen3Model, Qwen3Tokenizer]:
    torch.manual_seed(0)
    config = Qwen3Config.from_name("0.6B", **SMALL) if preset == "small" else Qwen3Config.from_name(preset)
    model = Qwen3Model(config).to(dtype).eval()
    tokenizer = Qwen3Tokenizer(build_offline_tokenizer(), base=True)
    save_pretrained(model, tokenizer, directory)
    return model, tokenizer


def start_server(directory: Path, dtype: str, batch: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "reasoning", "serve", "--model", str(directory), "--host", "127.0.0.1", "--port", str(port),
               "--dtype", dtype, "--max-batch-size", str(batch), "--max-waiting", "1024"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited: {server.stderr.read()}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return server, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start within 300 s")


async def send(client, model: str, jobs: list[tuple[list[int], int]], concurrent: bool) -> tuple[float, list[str], int]:
    """Seconds, completion texts and completion tokens for the jobs, all at once or one after another."""

    async def one(prompt: list[int], budget: int) -> tuple[str, int]:
        stream = await client.completions.create(
            model=model, prompt=prompt, max_tokens=budget, temperature=0, stream=True, stream_options={"include_usage": True}
        )
        pieces, tokens = [], 0
        async for chunk in stream:
            pieces += [choice.text for choice in chunk.choices]
            tokens = chunk.usage.completion_tokens if chunk.usage else tokens
        return "".join(pieces), tokens

    start = time.perf_counter()
    if concurrent:
        results = await asyncio.gather(*(one(prompt, budget) for prompt, budget in jobs))
    else:
        results = [await one(prompt, budget) for prompt, budget in jobs]
    return time.perf_counter() - start, [text for text, _ in results], sum(tokens for _, tokens in results)


async def both(url: str, name: str, jobs: list[tuple[list[int], int]], sequential: int) -> tuple[tuple, tuple]:
    """A warm-up request, then all the jobs at once, then the first `sequential` one at a time (one event loop)."""
    import openai

    client = openai.AsyncOpenAI(base_url=url, api_key="none", max_retries=0, timeout=3600)
    await send(client, name, jobs[:1], concurrent=False)
    return await send(client, name, jobs, concurrent=True), await send(client, name, jobs[:sequential], concurrent=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small", help="small (hidden 256, 4 layers, the real vocabulary) or a Qwen3 preset")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--sequential", type=int, default=16, help="how many of them to send one at a time")
    parser.add_argument("--mean-new-tokens", type=float, default=64)
    parser.add_argument("--max-batch-size", type=int, default=32)
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    load = os.getloadavg()[0]
    print(f"{args.preset} random weights, {args.dtype}, {describe('cpu')}")
    busy = "  WARNING: the machine is busy; figures will be low" if load > 0.5 else ""
    print(f"load average {load:.2f} on {os.cpu_count()} cores{busy}")
    jobs = workload(args.requests, args.mean_new_tokens, seed=2)
    with tempfile.TemporaryDirectory() as tmp:
        model, tokenizer = checkpoint(args.preset, dtype, Path(tmp))
        start = time.perf_counter()
        prompts = [Prompt(ids, budget) for ids, budget in jobs]
        expected = generate(model, tokenizer, prompts, max_batch_size=args.max_batch_size)
        local_seconds = time.perf_counter() - start
        local_tokens = sum(r.num_tokens for r in expected)
        del model
        server, url = start_server(Path(tmp), args.dtype, args.max_batch_size)
        try:
            (many_seconds, texts, many_tokens), (one_seconds, one_texts, one_tokens) = asyncio.run(both(url, tmp, jobs, args.sequential))
        finally:
            server.terminate()
            server.wait(30)
    differ_many = sum(text != result.text for text, result in zip(texts, expected))
    differ_one = sum(text != result.text for text, result in zip(one_texts, expected))
    rows = [
        ("one at a time (HTTP, streaming)", args.sequential, one_seconds, one_tokens),
        (f"{args.requests} at once (HTTP, streaming)", args.requests, many_seconds, many_tokens),
        (f"{args.requests} in-process (generate)", args.requests, local_seconds, local_tokens),
    ]
    print("\n| way | requests | seconds | requests/s | tokens/s |\n|---|---|---|---|---|")
    for label, count, seconds, tokens in rows:
        print(f"| {label} | {count} | {seconds:.1f} | {count / seconds:.2f} | {tokens / seconds:.1f} |")
    concurrent_rate, sequential_rate, local_rate = (tokens / seconds for _, _, seconds, tokens in (rows[1], rows[0], rows[2]))
    print(f"\nconcurrent / one at a time: {concurrent_rate / sequential_rate:.2f}x tokens/s")
    print(f"concurrent over HTTP / in-process: {concurrent_rate / local_rate:.2f}x tokens/s (the cost of HTTP and streaming)")
    print(f"completions that differ from the in-process ones: {differ_many} of {args.requests} concurrent, "
          f"{differ_one} of {args.sequential} one at a time"
          + ("" if args.dtype == "float32" else " (bf16 kernels may round differently at other batch sizes; float32 must give 0)"))


if __name__ == "__main__":
    main()
