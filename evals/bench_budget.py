"""The thinking-budget sweep against separate runs at each budget: tokens decoded and time, one run.

    python evals/bench_budget.py                              # 0.6B shape, a few minutes on 2 cores
    python evals/bench_budget.py --budgets 32,64,128,256,512  # doubling budgets

The Qwen3 preset (0.6B by default) with random weights; each prompt ends in <think>, as the
2507 Thinking models' template does, so thinking starts at once (random weights never close
it, so every sample runs into every budget: the sweep's least favourable case). Separate runs:
`generate(..., thinking_budget=B)` for each B. The sweep: `budget_sweep`, one decode of the
thinking up to the largest budget and a branch at each smaller one. Both sample with the same
seed, and the bench checks that they return the same tokens. Prints the CPU and dtype.

What bounds the token ratio: separate runs decode the sum of the budgets, the sweep the
largest, plus each budget's close and answer on both sides; doubling budgets (sum < 2 x max)
cannot save more than 2x, evenly spaced ones save about (count + 1) / 2.
"""

from __future__ import annotations

import argparse
import time

import torch

from reasoning.checkpoint import load_model_and_tokenizer
from reasoning.device import describe
from reasoning.generation import budget_sweep, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="0.6B")
    parser.add_argument("--dtype", default="auto", choices=["auto", "bfloat16", "float32"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--budgets", default="64,128,192,256,320")
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--n", type=int, default=2, help="samples per prompt")
    parser.add_argument("--answer-budget", type=int, default=8)
    args = parser.parse_args()

    budgets = sorted(int(b) for b in args.budgets.split(","))
    model, tokenizer = load_model_and_tokenizer(args.preset, args.device, args.dtype)
    dtype = model.embed_tokens.weight.dtype
    generator = torch.Generator().manual_seed(0)
    prompts = [torch.randint(0, 150_000, (40,), generator=generator).tolist() + [tokenizer.think_start_id] for _ in range(args.prompts)]
    options = dict(
        max_new_tokens=budgets[-1] + 64 + args.answer_budget, answer_budget=args.answer_budget, temperature=0.6,
        top_p=0.95, top_k=20, n=args.n, seed=0, eos_token_ids=[], compile=False,
    )  # fmt: skip
    print(f"bench_budget: {args.preset} random weights, {dtype}, {describe(args.device)}")
    print(f"{args.prompts} prompts x {args.n} samples, budgets {budgets}, answer budget {args.answer_budget}")
    generate(model, tokenizer, prompts[:1], max_new_tokens=2)  # warm-up

    start = time.perf_counter()
    sweep = budget_sweep(model, tokenizer, prompts, budgets, **options)
    sweep_seconds = time.perf_counter() - start
    start = time.perf_counter()
    separate = {budget: generate(model, tokenizer, prompts, thinking_budget=budget, **options) for budget in budgets}
    separate_seconds = time.perf_counter() - start

    for budget in budgets:
        assert [s.by_budget[budget].token_ids for s in sweep] == [r.token_ids for r in separate[budget]], budget
    sweep_tokens = sum(s.decoded_tokens for s in sweep)
    separate_tokens = sum(r.num_tokens for runs in separate.values() for r in runs)
    print("same tokens at every budget: yes")
    print(f"separate runs: {separate_tokens:6d} tokens decoded, {separate_seconds:7.1f} s")
    print(f"sweep:         {sweep_tokens:6d} tokens decoded, {sweep_seconds:7.1f} s")
    print(f"ratio: {separate_tokens / sweep_tokens:.2f}x fewer tokens, {separate_seconds / sweep_seconds:.2f}x less time")


if __name__ == "__main__":
    main()
