"""`reasoning generate` and `reasoning chat`: argparse wiring and printing, no generation logic.

`reasoning.cli` registers them with `add_generate_parser(subparsers)` and
`add_chat_parser(subparsers)`; each sets `func`, the function the command runs.
"""

from __future__ import annotations

import argparse
import sys
import time

from reasoning.flags import fraction, non_negative_float, non_negative_int, positive_int, probability

DTYPES = ("auto", "bfloat16", "float16", "float32")


def add_generate_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("generate", help="complete a prompt (streamed with --stream)")
    _add_model_arguments(parser)
    parser.add_argument("--prompt", required=True, action="append", help="prompt text (repeat for a batch)")
    parser.add_argument("--chat-template", action="store_true", help="wrap the prompt as one user turn of the chat format")
    parser.add_argument("--no-think", action="store_true", help="with --chat-template: turn thinking off")
    parser.add_argument("--stream", action="store_true", help="print text as it is generated (one prompt)")
    _add_sampling_arguments(parser, temperature=0.0, top_p=1.0, top_k=0)
    parser.add_argument("--n", type=positive_int, default=1, help="samples per prompt")
    parser.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    parser.add_argument("--max-batch-size", type=positive_int, default=32)
    parser.set_defaults(func=run_generate)


def add_chat_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("chat", help="multi-turn chat in the terminal, streamed, with tokens/s")
    _add_model_arguments(parser)
    parser.add_argument("--no-think", action="store_true", help="start with thinking off (toggle with /think)")
    # Qwen3's recommended sampling for thinking mode (model card): T=0.6, top-p 0.95, top-k 20.
    _add_sampling_arguments(parser, temperature=0.6, top_p=0.95, top_k=20)
    parser.set_defaults(func=run_chat)


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="alias (qwen3-0.6b), hub id, checkpoint directory, or a preset (0.6B) for random weights")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps, xpu")
    parser.add_argument("--dtype", default="auto", choices=DTYPES)
    parser.add_argument("--compile", action="store_true", help="torch.compile the decode step (slow to start, faster after)")


def _add_sampling_arguments(parser: argparse.ArgumentParser, *, temperature: float, top_p: float, top_k: int) -> None:
    parser.add_argument("--max-new-tokens", type=positive_int, default=512)
    parser.add_argument("--temperature", type=non_negative_float, default=temperature, help="0 is greedy")
    parser.add_argument("--top-p", type=probability, default=top_p)
    parser.add_argument("--top-k", type=non_negative_int, default=top_k, help="0 keeps every token")
    parser.add_argument("--min-p", type=fraction, default=0.0)
    parser.add_argument("--seed", type=int, default=None)


def run_generate(args: argparse.Namespace) -> None:
    from reasoning.generation import generate, stream

    model, tokenizer = load_model_and_tokenizer(args.model, args.device, args.dtype)
    prompts = args.prompt
    if args.chat_template:
        prompts = [_chat_prompt(tokenizer, [{"role": "user", "content": p}], not args.no_think) for p in prompts]
    options = dict(_sampling_options(args), stop=args.stop, compile=args.compile)
    if args.stream:
        if len(prompts) > 1 or args.n > 1:
            raise ValueError("--stream prints one completion: give one --prompt and --n 1")
        start = time.perf_counter()
        text_stream = stream(model, tokenizer, prompts[0], **options)
        for piece in text_stream:
            print(piece, end="", flush=True)
        print()
        _print_stats(text_stream.result, time.perf_counter() - start)
        return
    start = time.perf_counter()
    results = generate(model, tokenizer, prompts, n=args.n, max_batch_size=args.max_batch_size, **options)
    elapsed = time.perf_counter() - start
    for result in results:
        if len(results) > 1:
            print(f"--- prompt {result.prompt_index}, sample {result.sample_index} ({result.finish_reason}) ---")
        print(result.text)
    tokens = sum(r.num_tokens for r in results)
    print(f"[{len(results)} completions, {tokens} tokens in {elapsed:.1f} s, {tokens / elapsed:.1f} tokens/s]", file=sys.stderr)


def run_chat(args: argparse.Namespace) -> None:
    from reasoning.generation import stream

    model, tokenizer = load_model_and_tokenizer(args.model, args.device, args.dtype)
    thinking, messages = not args.no_think, []
    print("Chat with the model. Commands: /think (toggle thinking), /reset (new conversation), /exit.", file=sys.stderr)
    while True:
        try:
            user = input(f"\n[{'think' if thinking else 'no think'}] >>> ").strip()
        except EOFError:
            print()
            return
        if user in ("/exit", "/quit"):
            return
        if user == "/think":
            thinking = not thinking
        elif user == "/reset":
            messages = []
        if user in ("", "/think", "/reset"):
            continue
        messages.append({"role": "user", "content": user})
        start = time.perf_counter()
        text_stream = stream(model, tokenizer, _chat_prompt(tokenizer, messages, thinking), **_sampling_options(args), compile=args.compile)
        for piece in text_stream:
            print(piece, end="", flush=True)
        print()
        _print_stats(text_stream.result, time.perf_counter() - start)
        messages.append({"role": "assistant", "content": text_stream.result.text})


def load_model_and_tokenizer(name: str, device: str, dtype: str):
    """`load_pretrained` for checkpoints; a preset name ("0.6B") gives random weights (offline tests)."""
    import torch

    from reasoning.model.config import PRESETS

    torch_dtype = None if dtype == "auto" else getattr(torch, dtype)
    if name.upper() not in PRESETS:
        from reasoning.checkpoint import load_pretrained

        return load_pretrained(name, device=device, dtype=torch_dtype)
    import warnings

    from reasoning.device import default_dtype, get_device
    from reasoning.model.config import Qwen3Config
    from reasoning.model.qwen3 import Qwen3Model
    from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer

    print(f"preset {name}: random weights, the text will be noise", file=sys.stderr)
    torch_device = get_device(device)
    with torch.device(torch_device):
        model = Qwen3Model(Qwen3Config.from_name(name)).to(torch_dtype or default_dtype(torch_device)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model, Qwen3Tokenizer(build_offline_tokenizer())


def _chat_prompt(tokenizer, messages: list[dict], thinking: bool) -> str:
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, enable_thinking=thinking)


def _sampling_options(args: argparse.Namespace) -> dict:
    return dict(
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
        min_p=args.min_p, seed=args.seed,
    )  # fmt: skip


def _print_stats(result, seconds: float) -> None:
    print(f"[{result.num_tokens} tokens, {result.num_tokens / seconds:.1f} tokens/s, {result.finish_reason}]", file=sys.stderr)
