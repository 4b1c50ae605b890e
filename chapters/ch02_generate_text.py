"""Chapter 2: generating text with a pre-trained LLM.

Load Qwen3, encode a prompt into token ids, stream a completion, then time three ways to
decode the same greedy continuation: recomputing the whole sequence for every new token (no
KV cache), reusing the keys and values of earlier tokens (the KV cache), and the KV cache with
a compiled decode step. Each way should choose the same tokens; where one parts from the
first, the script tells a near tie (rounding can swap two logits that close) from a real
difference.

    python chapters/ch02_generate_text.py --model qwen3-0.6b-base
    python chapters/ch02_generate_text.py --model 0.6B --max-new-tokens 24   # random weights, offline
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from collections.abc import Sequence

import torch
from tqdm.auto import tqdm

from reasoning.checkpoint import load_model_and_tokenizer
from reasoning.cli import run_command
from reasoning.flags import positive_int
from reasoning.generation import stream

TOP = 5  # log-probs kept per step of the reference, to tell a near tie from a real difference


@torch.inference_mode()
def generate_without_cache(model: torch.nn.Module, ids: list[int], max_new_tokens: int) -> tuple[list[int], list[dict[int, float]]]:
    """Greedy decoding the naive way: the whole sequence goes through the model for every token.
    Also each step's TOP most likely tokens and their log-probs, to compare other ways against."""
    tokens, tops = list(ids), []
    device = next(model.parameters()).device
    for _ in tqdm(range(max_new_tokens), desc="no KV cache", unit="token", leave=False):
        logits = model.logits(model(torch.tensor([tokens], device=device))[:, -1])[0]
        logprobs, indices = torch.log_softmax(logits.float(), dim=-1).topk(TOP)
        tops.append(dict(zip(indices.tolist(), logprobs.tolist())))
        tokens.append(int(logits.argmax()))
    return tokens[len(ids) :], tops


def generate_with_cache(model: torch.nn.Module, tokenizer, ids: list[int], max_new_tokens: int, name: str, **options):
    """The engine's greedy decoding (KV cache), with a progress bar; EOS is ignored, so it makes
    exactly max_new_tokens tokens. The GenerationResult: tokens and their log-probs."""
    text_stream = stream(model, tokenizer, ids, max_new_tokens=max_new_tokens, eos_token_ids=[], **options)
    with tqdm(total=max_new_tokens, desc=name, unit="token", leave=False) as bar:
        for _ in text_stream:
            bar.update(len(text_stream.request.tokens) - bar.n)
    return text_stream.result


def agreement(reference: list[int], tops: list[dict[int, float]], tokens: Sequence[int], logprobs: Sequence[float]) -> str:
    """Whether a decoding chose the reference's greedy tokens, and where it parts from them, why.

    Two ways of computing the same logits round differently (the same sums in another order),
    which moves a log-prob by up to `noise`: the largest gap between the two ways' log-probs of
    the same token (every token both chose, and the one chosen where they part). Where the
    reference's top two tokens are within 2 * noise of each other, rounding alone can swap them:
    a near tie, after which the two texts differ for good. A wider margin is a real difference.
    """
    part = next((k for k, (ours, theirs) in enumerate(zip(tokens, reference)) if ours != theirs), None)
    if part is None:
        return "same tokens"
    pairs = [(logprobs[k], tops[k].get(tokens[k])) for k in range(part + 1)]
    noise = max((abs(ours - theirs) for ours, theirs in pairs if theirs is not None), default=0.0)
    margin = tops[part][reference[part]] - tops[part].get(tokens[part], -math.inf)
    if margin <= 2 * noise:
        return f"same first {part} tokens, then a near tie: the top two {margin:.2g} apart, rounding moves them {noise:.2g}"
    return f"DIFFERENT from token {part + 1}: the top two {margin:.2g} apart, more than rounding ({noise:.2g}) explains"


def timed(fn) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description="Chapter 2: generate text, and why the KV cache matters.")
    parser.add_argument("--model", default="qwen3-0.6b-base")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--prompt", default="Give me a short introduction to large language models.")
    parser.add_argument("--max-new-tokens", type=positive_int, default=64)
    parser.add_argument("--compile", action="store_true", help="also time the compiled decode step (compiling takes a while)")
    args = parser.parse_args()

    model, tokenizer = load_model_and_tokenizer(args.model, args.device, args.dtype)
    parameter = next(model.parameters())
    print(f"{args.model}: {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters, {parameter.dtype} on {parameter.device}")

    ids = tokenizer.encode(args.prompt)
    print(f"\nThe prompt is {len(ids)} tokens: {ids}")
    print("Pieces:", [tokenizer.decode([i]) for i in ids])

    print("\nStreamed completion:\n")
    text_stream = stream(model, tokenizer, args.prompt, max_new_tokens=args.max_new_tokens)
    for piece in text_stream:
        print(piece, end="", flush=True)
    print(f"\n\n({text_stream.result.num_tokens} tokens, finished by {text_stream.result.finish_reason})")

    # The same greedy continuation three ways, each compared with the first (no KV cache).
    n = args.max_new_tokens
    (reference, tops), seconds = timed(lambda: generate_without_cache(model, ids, n))
    timings = {"no KV cache": (seconds, "the reference")}
    ways = {"KV cache": {}}
    if args.compile:
        generate_with_cache(model, tokenizer, ids, 3, "compiling", compile=True)  # once, outside the timing
        ways["KV cache + compile"] = {"compile": True}
    for name, options in ways.items():
        result, seconds = timed(functools.partial(generate_with_cache, model, tokenizer, ids, n, name, **options))
        timings[name] = seconds, agreement(reference, tops, result.token_ids, result.logprobs)
    print(f"\nDecoding {n} tokens:")
    for name, (seconds, verdict) in timings.items():
        print(f"  {name:20s} {n / seconds:7.1f} tokens/s   ({seconds:.1f} s, {verdict})")
    print(
        "\nEach way should choose the reference's greedy token at every step. They compute the same"
        "\nlogits with sums in another order, so the logits differ by rounding; where the top two are"
        "\ncloser than that (a near tie), either may win and the texts part for good: not a bug."
        "\nRandom weights in bfloat16 have many near ties; --dtype float32 has far fewer."
    )


OFFLINE = "pass a local checkpoint directory as --model, or --model 0.6B for random weights (runs offline)"

if __name__ == "__main__":
    if status := run_command("ch02_generate_text.py", main, offline=OFFLINE):  # no SystemExit on success (runpy, %run)
        sys.exit(status)
