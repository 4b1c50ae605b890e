"""Generation speed of our engine against transformers' `generate`, on the same weights, in one run.

    python evals/bench_generation.py            # a few minutes on a 2-core CPU
    python evals/bench_generation.py --full     # the issue's workload: 64 requests, mean budget ~100
    python evals/bench_generation.py --quantize int8 --skip many   # int8 weights against bf16, one stream

Builds the Qwen3 preset (0.6B by default) with random weights, shares its tensors with a
transformers Qwen3ForCausalLM, and measures: (1) single-stream greedy decode tokens/s (decode
only: the time for N+1 tokens minus the time for 1, as /work/shared/bench does); (2) total
throughput on ragged requests (prompt lengths 20-200, token budgets long-tailed: log-normal,
most short, a few long) under the same max batch size, transformers taking the requests in
batches of that size, each run to its longest budget since it has no per-row budgets; (3) the
peak memory each one adds. EOS is disabled on both sides, so budgets fix every length.
With --quantize int8, single-stream decode also runs an int8-weight copy of our model
(`reasoning.model.quantize`) and prints its speed and weight memory against ours unquantized.
With --book, the book's own loop too, and the time to the first token of a 100-token prompt.
Single stream also prints our first call of the process (before any warm-up: one-time set-up
such as packing weights included), the memory bandwidth measured here between the decode runs
(`machine.py`), the bytes a token reads, the fraction of that bound reached, and what the LM
head's matrix-vector product alone streams (the kernel's own limit). --sampling times a
batch-8 step with Qwen3's and R1's sampling against greedy. The machine is shared and noisy: runs alternate
between the two and the best of each counts; the load average is printed first.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import math
import os
import threading
import time
from collections.abc import Callable

import torch

from machine import bytes_per_token, copy_bandwidth, load_line, read_probe, tokens_per_second_bound

from reasoning.device import describe
from reasoning.generation import Prompt, generate
from reasoning.generation.sampling import SamplingParams, choose_tokens
from reasoning.model.config import Qwen3Config
from reasoning.model.quantize import quantize_int8
from reasoning.model.qwen3 import Qwen3Model


def build_models(preset: str, dtype: torch.dtype, device: torch.device) -> tuple[Qwen3Model, torch.nn.Module]:
    """Our model with random weights, and transformers' model holding the very same tensors."""
    import transformers

    torch.manual_seed(0)
    config = Qwen3Config.from_name(preset)
    with torch.device(device):
        ours = Qwen3Model(config).to(dtype).eval()
    hf_config = transformers.Qwen3Config(**{k: v for k, v in config.to_hf().items() if k not in ("architectures", "torch_dtype")})
    with torch.device("meta"):
        reference = transformers.Qwen3ForCausalLM(hf_config)
    state = {("model." + name): tensor for name, tensor in ours.state_dict().items()}
    state["lm_head.weight"] = ours.lm_head.weight if ours.lm_head is not None else ours.embed_tokens.weight
    reference.load_state_dict(state, assign=True)
    with torch.device(device):  # buffers are not in the state dict: build them for real
        reference.model.rotary_emb = type(reference.model.rotary_emb)(config=hf_config)
    return ours, reference.eval()


def hf_generate(model: torch.nn.Module, prompts: list[list[int]], new_tokens: int, device: torch.device) -> None:
    """transformers' greedy generate on left-padded prompts, exactly `new_tokens` each."""
    longest = max(len(p) for p in prompts)
    ids = torch.zeros(len(prompts), longest, dtype=torch.long)
    mask = torch.zeros(len(prompts), longest, dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, longest - len(prompt) :] = torch.tensor(prompt)
        mask[row, longest - len(prompt) :] = 1
    with torch.inference_mode():
        model.generate(
            ids.to(device), attention_mask=mask.to(device), max_new_tokens=new_tokens, min_new_tokens=new_tokens,
            do_sample=False, pad_token_id=0, eos_token_id=None,
        )  # fmt: skip


class PeakMemory:
    """Peak memory added while inside the block: CUDA allocator peak, else sampled process RSS."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.peak = device, 0

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        else:
            _release_free_memory()  # else memory freed by an earlier run hides this one's growth
            self.base, self._done = _rss(), threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) - self.base
        else:
            self._done.set()
            self._thread.join()

    def _sample(self) -> None:
        while not self._done.wait(0.005):
            self.peak = max(self.peak, _rss() - self.base)


def _release_free_memory() -> None:
    """Return the C heap's free pages to the OS (glibc's malloc_trim), where that exists."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def best_of(runs: int, *timed: Callable[[], float]) -> list[float]:
    """Alternate the timed functions `runs` times; the smallest time of each."""
    best = [math.inf] * len(timed)
    for _ in range(runs):
        for index, fn in enumerate(timed):
            best[index] = min(best[index], fn())
    return best


def clock(fn: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def single_stream(ours, reference, args, device, quantized=None) -> tuple[list[float], dict[str, float]]:
    """Decode tokens/s of one greedy stream (prefill excluded by differencing): ours, transformers[,
    ours quantized][, the book's]; and ours on the first call of the process ("first", prefill
    and any one-time set-up included) and the time to the first token of a 100-token prompt
    ("ttft", ours and the book's)."""
    prompt = torch.randint(0, 150_000, (args.prompt_len,), generator=torch.Generator().manual_seed(1)).tolist()
    long_prompt = torch.randint(0, 150_000, (100,), generator=torch.Generator().manual_seed(2)).tolist()
    new = args.new_tokens

    def ours_run(model: Qwen3Model, ids: list[int] = prompt) -> Callable[[int], object]:
        return lambda n: generate(model, None, [ids], max_new_tokens=n, eos_token_ids=[], compile=args.compile)

    def decode_time(run: Callable[[int], object]) -> Callable[[], float]:
        return lambda: clock(lambda: run(new + 1), device) - clock(lambda: run(1), device)

    extra = {"first": (new + 1) / clock(lambda: ours_run(ours)(new + 1), device)}  # before any warm-up
    runs = [ours_run(ours), lambda n: hf_generate(reference, [prompt], n, device)]
    runs += [ours_run(quantized)] if quantized is not None else []
    book = book_run(prompt, ours.embed_tokens.weight.dtype, device) if args.book else None
    runs += [book] if book is not None else []
    for run in runs:
        run(2)  # warm-up (and compilation)
    probes = [read_probe(), head_probe(ours, device)] if device.type == "cpu" else []
    seconds = best_of(args.repeats, *map(decode_time, runs), *probes)
    rates = [new / s for s in seconds[: len(runs)]]
    extra |= dict(zip(("read", "head"), (1 / s for s in seconds[len(runs) :])))  # GB/s
    first_token = [lambda: clock(lambda: ours_run(ours, long_prompt)(1), device)]
    if book is not None:
        long_book = book_run(long_prompt, ours.embed_tokens.weight.dtype, device, model=book.model)
        first_token.append(lambda: clock(lambda: long_book(1), device))
    extra |= dict(zip(("ttft", "book_ttft"), best_of(args.repeats, *first_token)))
    return rates, extra


def sampling_cost(ours, args, device) -> dict[str, float]:
    """Seconds of a greedy decode step of 8 rows ("step"), and of choosing 8 tokens from 8 rows of
    logits greedily and with Qwen3's thinking protocol (T 0.6, top-k 20, top-p 0.95) and R1's
    (T 0.6, top-p 0.95, no top-k): what sampling costs beside the forward pass."""
    prompts = [torch.randint(0, 150_000, (32,), generator=torch.Generator().manual_seed(row)).tolist() for row in range(8)]
    run = lambda n: generate(ours, None, prompts, max_new_tokens=n, eos_token_ids=[], max_batch_size=8)
    steps = args.new_tokens
    logits = ours.logits(torch.randn(8, ours.config.hidden_size, dtype=ours.embed_tokens.weight.dtype, device=device))
    keys, counters = torch.arange(8, device=device), torch.zeros(8, dtype=torch.long, device=device)
    protocols = {"greedy": SamplingParams(), "qwen3": SamplingParams(0.6, 20, 0.95), "r1": SamplingParams(0.6, 0, 0.95)}

    def choose(params: SamplingParams) -> Callable[[], float]:
        return lambda: clock(lambda: [choose_tokens(logits, params, keys, counters) for _ in range(10)], device) / 10

    timed = [lambda: (clock(lambda: run(steps + 1), device) - clock(lambda: run(1), device)) / steps]
    return dict(zip(["step", *protocols], best_of(args.repeats, *timed, *(choose(p) for p in protocols.values()))))


def head_probe(model: Qwen3Model, device: torch.device) -> Callable[[], float]:
    """Seconds per GB of one decode step's LM head alone (one row through the vocabulary-sized
    matrix, the path decoding takes): what the matrix-vector kernel streams at best."""
    hidden = torch.randn(1, model.config.hidden_size, dtype=model.embed_tokens.weight.dtype, device=device)
    gigabytes = model.head_weight.numel() * model.head_weight.element_size() / 1e9

    @torch.inference_mode()
    def timed() -> float:
        return min(clock(lambda: model.logits(hidden), device) for _ in range(3)) / gigabytes

    return timed


def book_run(prompt: list[int], dtype: torch.dtype, device: torch.device, model=None) -> Callable[[int], object]:
    """The book's own greedy loop (reasoning-from-scratch's Qwen3Model and KV cache, random
    weights of the 0.6B shape): prefill, then one token at a time, as its chapter 2 decodes."""
    from reasoning_from_scratch.qwen3 import QWEN_CONFIG_06_B, KVCache
    from reasoning_from_scratch.qwen3 import Qwen3Model as BookModel

    config = dict(QWEN_CONFIG_06_B, dtype=dtype)
    if model is None:
        with torch.device(device):
            model = BookModel(config).eval()
    ids = torch.tensor([prompt], device=device)

    @torch.inference_mode()
    def run(n: int) -> None:
        cache = KVCache(n_layers=config["n_layers"])
        model.reset_kv_cache()
        logits = model(ids, cache=cache)[:, -1]
        for _ in range(n - 1):
            logits = model(logits.argmax(dim=-1, keepdim=True), cache=cache)[:, -1]

    run.model = model
    return run


def workload(requests: int, mean_new_tokens: float, seed: int) -> list[tuple[list[int], int]]:
    """Ragged prompts (20-200 tokens) with long-tailed budgets: log-normal, sigma 1, given mean."""
    generator = torch.Generator().manual_seed(seed)
    sigma = 1.0
    median = mean_new_tokens / math.exp(sigma**2 / 2)
    lengths = torch.randint(20, 201, (requests,), generator=generator)
    budgets = (torch.randn(requests, generator=generator) * sigma).exp() * median
    budgets = budgets.round().clamp(1, 8 * mean_new_tokens).long()
    return [
        (torch.randint(0, 150_000, (int(n),), generator=generator).tolist(), int(b)) for n, b in zip(lengths, budgets)
    ]


def many_requests(ours, reference, args, device) -> dict[str, float]:
    """Total generated tokens/s over the ragged workload, and the peak memory each run adds."""
    jobs = workload(args.requests, args.mean_new_tokens, seed=2)
    total = sum(budget for _, budget in jobs)
    batch = args.max_batch_size

    def run_ours() -> None:
        prompts = [Prompt(ids, budget) for ids, budget in jobs]
        generate(ours, None, prompts, max_new_tokens=1, eos_token_ids=[], max_batch_size=batch, compile=args.compile)

    def run_hf() -> None:
        for start in range(0, len(jobs), batch):
            chunk = jobs[start : start + batch]
            hf_generate(reference, [ids for ids, _ in chunk], max(b for _, b in chunk), device)

    memory = {}

    def measured(name: str, fn: Callable[[], None]) -> float:
        with PeakMemory(device) as peak:
            seconds = clock(fn, device)
        memory[name] = max(memory.get(name, 0), peak.peak)
        return seconds

    ours_s, hf_s = best_of(args.workload_repeats, lambda: measured("ours", run_ours), lambda: measured("hf", run_hf))
    budgets = sorted(b for _, b in jobs)
    return dict(
        tokens=total, median_budget=budgets[len(budgets) // 2], max_budget=budgets[-1], ours_s=ours_s, hf_s=hf_s,
        ours_mem=memory["ours"], hf_mem=memory["hf"],
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="0.6B")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32", "float16"])
    parser.add_argument("--full", action="store_true", help="64 requests, mean budget 100, batch 32 (long on a CPU)")
    parser.add_argument("--prompt-len", type=int, default=32, help="single-stream prompt length")
    parser.add_argument("--new-tokens", type=int, default=32, help="single-stream decode tokens")
    parser.add_argument("--repeats", type=int, default=3, help="single-stream runs of each (best counts)")
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--mean-new-tokens", type=float, default=32)
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument("--workload-repeats", type=int, default=1)
    parser.add_argument("--compile", action="store_true", help="torch.compile our decode step")
    parser.add_argument("--skip", choices=["single", "many"], help="leave one measurement out")
    parser.add_argument("--quantize", choices=["none", "int8"], default="none", help="int8: also time an int8-weight copy of ours")
    parser.add_argument("--book", action="store_true", help="also time the book's code (pip install --no-deps reasoning-from-scratch)")
    parser.add_argument("--sampling", action="store_true", help="also time top-k/top-p sampling against greedy at batch 8")
    args = parser.parse_args()
    if args.full:
        args.requests, args.mean_new_tokens, args.max_batch_size = 64, 100, 32
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    ours, reference = build_models(args.preset, dtype, device)
    quantized = quantize_int8(copy.deepcopy(ours)) if args.quantize == "int8" else None
    where = f"{args.preset} random weights, {args.dtype}, {describe(device)}"
    print(f"bench_generation: {where}{', compiled' if args.compile else ''}")
    print(load_line())
    if args.compile:  # one graph for batches, one for single streams: compile both before timing
        warm = lambda model, prompts: generate(model, None, prompts, max_new_tokens=2, eos_token_ids=[], compile=True)
        models = [ours] + ([quantized] if quantized is not None else [])
        seconds = clock(lambda: [(warm(model, [[1, 2, 3]] * 2), warm(model, [[1, 2, 3]])) for model in models], device)
        print(f"compiling the decode step took {seconds:.0f} s (batched and single-stream graphs)")
    if args.skip != "single":
        (mine, theirs, *more), extra = single_stream(ours, reference, args, device, quantized)
        int8, book = more[: quantized is not None], more[quantized is not None :]
        print(f"single-stream decode   ours {mine:7.2f} tok/s   transformers {theirs:7.2f} tok/s   ratio {mine / theirs:.2f}x")
        if book:
            print(f"single-stream decode   ours {mine:7.2f} tok/s   the book's code {book[0]:7.2f} tok/s   ratio {mine / book[0]:.2f}x")
        print(f"first call of the process (prefill and set-up included)   ours {extra['first']:7.2f} tok/s")
        ttft = f"ours {extra['ttft'] * 1e3:6.0f} ms" + (f"   the book's code {extra['book_ttft'] * 1e3:6.0f} ms" if book else "")
        print(f"time to first token, 100-token prompt   {ttft}")
        if device.type == "cpu":
            per_token = bytes_per_token(ours)
            limit, kernel_limit = (tokens_per_second_bound(extra[name], per_token) for name in ("read", "head"))
            print(
                f"memory bandwidth {extra['read']:.1f} GB/s read (between the decode runs; {copy_bandwidth():.1f} GB/s copy, read "
                f"plus written); {per_token / 1e9:.2f} GB read per token: at most {limit:.1f} tok/s; ours reaches {mine / limit:.0%} of it"
            )
            print(
                f"the LM head's matrix-vector product alone streams {extra['head']:.1f} GB/s ({extra['head'] / extra['read']:.0%} of "
                f"the read): every weight at that speed gives {kernel_limit:.1f} tok/s; ours reaches {mine / kernel_limit:.0%} of it"
            )
        if int8:
            gib = 2**30
            print(
                f"int8 weights           ours int8 {int8[0]:7.2f} tok/s   ours {args.dtype} {mine:7.2f} tok/s   "
                f"ratio {int8[0] / mine:.2f}x   weights {weights_bytes(quantized) / gib:.2f} GiB vs "
                f"{weights_bytes(ours) / gib:.2f} GiB (block linears {linear_bytes(quantized) / gib:.2f} vs "
                f"{linear_bytes(ours) / gib:.2f} GiB)"
            )
    if args.sampling:
        cost = sampling_cost(ours, args, device)
        for name in ("qwen3", "r1"):
            extra = cost[name] - cost["greedy"]
            print(
                f"sampling, batch 8, {name} protocol: {cost[name] * 1e3:.1f} ms to choose 8 tokens, {extra * 1e3:.1f} ms more than "
                f"greedy, beside a {cost['step'] * 1e3:.0f} ms greedy decode step ({extra / (cost['step'] + extra):.0%} of the step)"
            )
    if args.skip != "many":
        r = many_requests(ours, reference, args, device)
        print(
            f"{args.requests} requests (prompts 20-200, budgets median {r['median_budget']} mean "
            f"{r['tokens'] / args.requests:.0f} max {r['max_budget']}, batch {args.max_batch_size}): "
            f"ours {r['tokens'] / r['ours_s']:7.2f} tok/s ({r['ours_s']:.0f} s)   transformers "
            f"{r['tokens'] / r['hf_s']:7.2f} tok/s ({r['hf_s']:.0f} s)   ratio {r['hf_s'] / r['ours_s']:.2f}x"
        )
        gib = 2**30
        print(
            f"peak memory added     ours {r['ours_mem'] / gib:6.2f} GiB   transformers {r['hf_mem'] / gib:6.2f} GiB   "
            f"ratio {r['ours_mem'] / max(r['hf_mem'], 1):.2f}x   (weights {weights_bytes(ours) / gib:.2f} GiB, shared)"
        )


def weights_bytes(model: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def linear_bytes(model: Qwen3Model) -> int:
    """Bytes of the blocks' attention and MLP projections: what int8 quantisation halves."""
    return sum(weights_bytes(module) for name, module in model.layers.named_modules() if name.endswith("_proj"))


if __name__ == "__main__":
    main()
