"""Chapter 2: generating text with a pre-trained LLM.

Load Qwen3, encode a prompt into token ids, stream a completion, then time three ways to
decode the same greedy continuation: recomputing the whole sequence for every new token (no
KV cache), reusing the keys and values of earlier tokens (the KV cache), and the KV cache with
a compiled decode step.

    python chapters/ch02_generate_text.py --model qwen3-0.6b-base
    python chapters/ch02_generate_text.py --model 0.6B --max-new-tokens 24   # random weights, offline
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from reasoning.checkpoint import load_model_and_tokenizer
from reasoning.cli import run_command
from reasoning.flags import positive_int
from reasoning.generation import generate, stream


@torch.inference_mode()
def generate_without_cache(model: torch.nn.Module, ids: list[int], max_new_tokens: int) -> list[int]:
    """Greedy decoding the naive way: the whole sequence goes through the model for every token."""
    tokens = list(ids)
    for _ in range(max_new_tokens):
        logits = model.logits(model(torch.tensor([tokens], device=next(model.parameters()).device))[:, -1])
        tokens.append(int(logits.argmax(dim=-1)))
    return tokens[len(ids) :]


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

    # The same greedy continuation three ways; EOS is ignored so each makes exactly N tokens.
    n = args.max_new_tokens
    runs = {
        "no KV cache": lambda: generate_without_cache(model, ids, n),
        "KV cache": lambda: list(generate(model, tokenizer, [ids], max_new_tokens=n, eos_token_ids=[])[0].token_ids),
    }
    if args.compile:
        compiled = lambda k: list(generate(model, tokenizer, [ids], max_new_tokens=k, eos_token_ids=[], compile=True)[0].token_ids)
        _, seconds = timed(lambda: compiled(3))
        print(f"\nCompiling the decode step took {seconds:.0f} s (once per model and kind of batch)")
        runs["KV cache + compile"] = lambda: compiled(n)
    print(f"\nDecoding {n} tokens:")
    reference = None
    for name, run in runs.items():
        tokens, seconds = timed(run)
        reference = reference or tokens
        same = "same tokens" if tokens == reference else f"{sum(a == b for a, b in zip(tokens, reference))}/{n} tokens agree"
        print(f"  {name:20s} {n / seconds:7.1f} tokens/s   ({seconds:.1f} s, {same})")


OFFLINE = "pass a local checkpoint directory as --model, or --model 0.6B for random weights (runs offline)"

if __name__ == "__main__":
    if status := run_command("ch02_generate_text.py", main, offline=OFFLINE):  # no SystemExit on success (runpy, %run)
        sys.exit(status)
