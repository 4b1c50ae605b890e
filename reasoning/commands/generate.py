"""`reasoning generate` and `reasoning chat`: argparse wiring and printing, no generation logic.

`reasoning.cli` registers them with `add_generate_parser(subparsers)` and
`add_chat_parser(subparsers)`; each sets `func`, the function the command runs.
"""

from __future__ import annotations

import argparse
import sys
import time

from reasoning.generation.options import SAMPLING_FLAGS, THINKING_FLAGS, add_generation_flags, generation_config

DTYPES = ("auto", "bfloat16", "float16", "float32")
QUANTIZE = ("none", "int8")  # reasoning.model.quantize.METHODS, named here so the CLI starts without torch


def add_generate_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("generate", help="complete a prompt (streamed with --stream)")
    _add_model_arguments(parser)
    parser.add_argument("--prompt", required=True, action="append", help="prompt text (repeat for a batch)")
    parser.add_argument("--chat-template", action="store_true", help="wrap the prompt as one user turn of the chat format")
    parser.add_argument("--no-think", action="store_true", help="with --chat-template: turn thinking off")
    parser.add_argument("--stream", action="store_true", help="print text as it is generated (one prompt)")
    add_generation_flags(parser, (*SAMPLING_FLAGS, "n", "stop", "max_batch_size", *THINKING_FLAGS, "compile"), max_new_tokens=512)
    parser.set_defaults(func=run_generate)


def add_chat_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("chat", help="multi-turn chat in the terminal, streamed, with tokens/s")
    _add_model_arguments(parser)
    parser.add_argument("--no-think", action="store_true", help="start with thinking off (toggle with /think)")
    # Qwen3's recommended sampling for thinking mode (model card): T=0.6, top-p 0.95, top-k 20.
    add_generation_flags(parser, (*SAMPLING_FLAGS, *THINKING_FLAGS, "compile"), max_new_tokens=512, temperature=0.6, top_p=0.95, top_k=20)
    parser.set_defaults(func=run_chat)


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="alias (qwen3-0.6b), hub id, checkpoint directory, or a preset (0.6B) for random weights")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps, xpu")
    parser.add_argument("--dtype", default="auto", choices=DTYPES)
    parser.add_argument("--quantize", default="none", choices=QUANTIZE, help="int8: int8 weights in the linear layers (faster decoding on CPU)")


def run_generate(args: argparse.Namespace) -> None:
    from reasoning.generation import generate, stream

    config = generation_config(args)
    if args.stream and (len(args.prompt) > 1 or config.n > 1):
        raise ValueError("--stream prints one completion: give one --prompt and --n 1")
    model, tokenizer = _load(args)
    prompts = args.prompt
    if args.chat_template:
        prompts = [_chat_prompt(tokenizer, [{"role": "user", "content": p}], not args.no_think) for p in prompts]
    if args.stream:
        start = time.perf_counter()
        text_stream = stream(model, tokenizer, prompts[0], config)
        for piece in text_stream:
            print(piece, end="", flush=True)
        print()
        _print_stats(text_stream.result, time.perf_counter() - start)
        return
    start = time.perf_counter()
    results = generate(model, tokenizer, prompts, config)
    elapsed = time.perf_counter() - start
    for result in results:
        if len(results) > 1:
            print(f"--- prompt {result.prompt_index}, sample {result.sample_index} ({result.finish_reason}) ---")
        print(result.text)
    tokens = sum(r.num_tokens for r in results)
    print(f"[{len(results)} completions, {tokens} tokens in {elapsed:.1f} s, {tokens / elapsed:.1f} tokens/s]", file=sys.stderr)


def run_chat(args: argparse.Namespace) -> None:
    from reasoning.generation import stream

    config = generation_config(args)
    model, tokenizer = _load(args)
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
        text_stream = stream(model, tokenizer, _chat_prompt(tokenizer, messages, thinking), config)
        for piece in text_stream:
            print(piece, end="", flush=True)
        print()
        _print_stats(text_stream.result, time.perf_counter() - start)
        messages.append({"role": "assistant", "content": text_stream.result.text})


def _load(args: argparse.Namespace):
    from reasoning.checkpoint import load_model_and_tokenizer
    from reasoning.model.config import PRESETS

    if args.model.upper() in PRESETS:
        print(f"preset {args.model}: random weights, the text will be noise", file=sys.stderr)
    return load_model_and_tokenizer(args.model, args.device, args.dtype, quantize=args.quantize)


def _chat_prompt(tokenizer, messages: list[dict], thinking: bool) -> str:
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, enable_thinking=thinking)


def _print_stats(result, seconds: float) -> None:
    split = "" if result.thinking_tokens is None else (
        f" ({result.thinking_tokens} thinking, {result.forced_tokens} forced, {result.answer_tokens} answer)"
    )  # fmt: skip
    print(f"[{result.num_tokens} tokens{split}, {result.num_tokens / seconds:.1f} tokens/s, {result.finish_reason}]", file=sys.stderr)
