"""Self-consistency throughput: n samples per prompt side by side in the engine, against the
same samples generated one after another through the same engine, in one run.

    python evals/bench_scaling.py                 # 2 prompts x 8 samples, a few minutes on a 2-core CPU
    python evals/bench_scaling.py --prompts 4 --mean-new-tokens 100
    python evals/bench_scaling.py --dtype float32 --reference   # PYTHONPATH holding reasoning_from_scratch

Builds the Qwen3 preset (0.6B by default) with random weights. Each prompt (20-200 tokens)
gets n samples whose token budgets are long-tailed as in bench_generation (log-normal, so
samples end at different times, as real ones do); EOS is off so budgets fix every length.
Sampling is self-consistency's (temperature 0.8, top-p 0.9). Batched: every request goes to
one engine run; the n samples of a prompt share one prefill and decode together. Sequential:
each sample alone (its prompt prefilled again each time). Also times the book's workload
(one 100-token prompt, 8 samples x 48 tokens, as /work/shared/bench times it); with --reference,
also the reference itself (the book's ch04 self-consistency, samples one after another) in this
process, same dtype, for the ratio. Every figure names the CPU and the dtype: machines differ
(float32 is what `default_dtype` picks on CPUs without bf16 kernels).
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from reasoning.device import default_dtype, describe
from reasoning.generation.engine import Engine
from reasoning.generation.request import Request
from reasoning.generation.sampling import SamplingParams, request_key
from reasoning.model.config import Qwen3Config
from reasoning.model.qwen3 import Qwen3Model

SAMPLING = SamplingParams(temperature=0.8, top_p=0.9)


def workload(prompts: int, n: int, mean_new_tokens: float, seed: int) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, n sample budgets) per prompt: prompts of 20-200 tokens, log-normal budgets."""
    generator = torch.Generator().manual_seed(seed)
    sigma = 1.0
    median = mean_new_tokens / math.exp(sigma**2 / 2)
    jobs = []
    for _ in range(prompts):
        length = int(torch.randint(20, 201, (1,), generator=generator))
        budgets = ((torch.randn(n, generator=generator) * sigma).exp() * median).round().clamp(1, 8 * mean_new_tokens)
        jobs.append((torch.randint(0, 150_000, (length,), generator=generator).tolist(), budgets.long().tolist()))
    return jobs


def requests(jobs: list[tuple[list[int], list[int]]]) -> list[list[Request]]:
    return [
        [Request(prompt, budget, request_key(0, index, sample)) for sample, budget in enumerate(budgets)]
        for index, (prompt, budgets) in enumerate(jobs)
    ]  # fmt: skip


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def reference_seconds(dtype: torch.dtype, n: int, new_tokens: int) -> float:
    """The book's self-consistency (reasoning_from_scratch ch04) on the 0.6B shape, as
    shared/bench/peer_bench_selfconsistency.py times it: n samples of one 100-token prompt."""
    from reasoning_from_scratch import ch04
    from reasoning_from_scratch.qwen3 import QWEN_CONFIG_06_B
    from reasoning_from_scratch.qwen3 import Qwen3Model as ReferenceModel

    class FixedPrompt:  # a 100-token prompt and no EOS: every sample runs new_tokens
        eos_token_id = None

        def encode(self, text: str) -> list[int]:
            return list(range(1000, 1100))

        def decode(self, ids: list[int]) -> str:
            return "\\boxed{1}"

    torch.manual_seed(0)
    model = ReferenceModel(dict(QWEN_CONFIG_06_B, dtype=dtype)).eval()
    run = lambda: ch04.self_consistency_vote(
        model, FixedPrompt(), "x", "cpu", num_samples=n, temperature=0.8, top_p=0.9, max_new_tokens=new_tokens,
        show_progress=False, seed=1,
    )  # fmt: skip
    with torch.inference_mode():
        run()  # warm-up, as the reference script does
        return timed(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="0.6B")
    parser.add_argument("--dtype", choices=["bfloat16", "float32"], help="default: default_dtype of the device")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--mean-new-tokens", type=float, default=48)
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--skip-book", action="store_true", help="leave out the 1 x 8 x 48 workload")
    parser.add_argument("--reference", action="store_true", help="also time the book's self-consistency (needs reasoning_from_scratch)")
    args = parser.parse_args()

    torch.manual_seed(0)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype) if args.dtype else default_dtype(device)
    with torch.device(device):
        model = Qwen3Model(Qwen3Config.from_name(args.preset)).to(dtype).eval()
    jobs = workload(args.prompts, args.n, args.mean_new_tokens, seed=2)
    total = sum(sum(budgets) for _, budgets in jobs)
    where = f"[{describe(device)}, {str(dtype).removeprefix('torch.')}]"
    print(f"bench_scaling: {args.preset} random weights {where}")
    print(f"{args.prompts} prompts x {args.n} samples, {total} tokens (budgets {sorted(b for _, bs in jobs for b in bs)})")

    batched_engine = Engine(model, max_batch_size=args.max_batch_size)
    single_engine = Engine(model, max_batch_size=1)
    run_batched = lambda groups: list(batched_engine.run(groups, SAMPLING))
    run_one_by_one = lambda groups: [list(single_engine.run([[r]], SAMPLING)) for group in groups for r in group]
    run_batched(requests([(jobs[0][0], [2])]))  # warm-up
    batched_s = timed(lambda: run_batched(requests(jobs)))
    sequential_s = timed(lambda: run_one_by_one(requests(jobs)))
    print(
        f"self-consistency   batched {total / batched_s:7.2f} tok/s ({batched_s:.0f} s)   one after another "
        f"{total / sequential_s:7.2f} tok/s ({sequential_s:.0f} s)   ratio {sequential_s / batched_s:.2f}x   {where}"
    )
    if not args.skip_book:
        book = [(list(range(1000, 1100)), [48] * 8)]  # the reference's 100-token prompt
        book_s = timed(lambda: run_batched(requests(book)))
        print(f"book workload (1 prompt, 8 x 48 tokens): batched {8 * 48 / book_s:.2f} tok/s ({book_s:.1f} s)   {where}")
        if args.reference:
            reference_s = reference_seconds(dtype, 8, 48)
            print(
                f"book workload, the book's ch04 one sample after another: {8 * 48 / reference_s:.2f} tok/s "
                f"({reference_s:.1f} s)   batched/reference {reference_s / book_s:.2f}x   {where}"
            )


if __name__ == "__main__":
    main()
