"""`reasoning info` and `reasoning convert`: a model's shape and sizes, and the book's checkpoints
in the Hugging Face layout. Argument parsing and calls, no logic."""

from __future__ import annotations

import argparse

from reasoning.flags import input_file, output_dir


def add_info_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("info", help="show a model's shape, parameter count and memory")
    parser.add_argument("--model", required=True, help="alias (qwen3-0.6b), hub id, checkpoint directory, or preset (0.6B)")
    parser.set_defaults(func=run_info)


def run_info(args: argparse.Namespace) -> None:
    """Print the configuration and sizes, reading only config.json (weights are not downloaded)."""
    import torch

    from reasoning import hub
    from reasoning.adapter_files import model_name
    from reasoning.checkpoint import read_config
    from reasoning.model.config import PRESETS, Qwen3Config
    from reasoning.model.moe import parameter_counts
    from reasoning.model.qwen3 import Qwen3Model

    if args.model.upper() in PRESETS:
        config = Qwen3Config.from_name(args.model)
    else:
        config = read_config(hub.download(model_name(args.model), ("config.json",)))  # an adapter: its base's
    with torch.device("meta"):
        model = Qwen3Model(config)
    count, active = parameter_counts(model)
    kv_bytes = 2 * config.num_layers * config.num_kv_heads * config.head_dim * 2
    for field, value in config.to_dict().items():
        print(f"{field:24s} {value}")
    print(f"{'parameters':24s} {count / 1e9:.3f} B ({count * 2 / 2**30:.2f} GiB in bf16)")
    if config.is_moe:  # what one token reads: attention, router and its top-k experts per layer
        print(f"{'active per token':24s} {active / 1e9:.3f} B ({active * 2 / 2**30:.2f} GiB in bf16)")
    print(f"{'KV cache per token':24s} {_in_units(kv_bytes)} in bf16")


def _in_units(size: int) -> str:
    """A byte count in bytes, KiB or MiB to three significant figures, exact bytes beside: a tiny
    model's 512 bytes per token must not print as 0 KiB."""
    if size < 2**10:
        return f"{size:,} bytes"
    value, unit = (size / 2**10, "KiB") if size < 2**20 else (size / 2**20, "MiB")
    digits = 0 if value >= 100 else 1 if value >= 10 else 2
    return f"{value:.{digits}f} {unit} ({size:,} bytes)"


def add_convert_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("convert", help="a .pth checkpoint of the book's from-scratch Qwen3 -> a Hugging Face checkpoint directory")
    parser.add_argument("checkpoint", type=input_file, help="the book's .pth state dict (base, reasoning, GRPO or distilled)")
    parser.add_argument("out", type=output_dir, help="directory for config.json, model.safetensors and tokenizer.json")
    parser.add_argument("--preset", default="0.6B", help="the size the file holds (RoPE base and context come from it)")
    parser.add_argument("--kind", choices=["base", "reasoning"], default="reasoning",
                        help="tokenizer flavour: base (ends at <|endoftext|>) or reasoning (chat, <|im_end|>)")
    parser.add_argument("--overwrite", action="store_true", help="replace a checkpoint already in OUT")
    parser.set_defaults(func=run_convert)


def run_convert(args: argparse.Namespace) -> None:
    from reasoning.book import load_book_checkpoint
    from reasoning.checkpoint import save_pretrained
    from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer

    if (args.out / "config.json").exists():
        if not args.overwrite:
            raise ValueError(f"{args.out} already holds a checkpoint: pass --overwrite to replace it, or choose another directory")
    elif args.out.is_dir() and any(args.out.iterdir()):  # the user's own files: never written beside
        raise ValueError(f"{args.out} holds other files and no checkpoint: choose a new or empty directory")
    model = load_book_checkpoint(args.checkpoint, preset=args.preset)
    out = save_pretrained(model, Qwen3Tokenizer(build_offline_tokenizer(), base=args.kind == "base"), args.out)
    print(f"{args.checkpoint} -> {out} ({sum(p.numel() for p in model.parameters()) / 1e9:.3f} B parameters)")
