"""MoE generation speed: our engine against transformers' `generate` on Qwen3-30B-A3B cut to 4 layers.

    python evals/bench_moe.py [--layers 4] [--device cuda] [--threads 1]

Builds the Qwen3-30B-A3B(-2507) shape with `--layers` layers and random weights (bf16: 128
experts of 768 per layer, 8 per token), gives transformers' Qwen3MoeForCausalLM the very same
tensors (its in-memory expert layout equals ours, so nothing is copied), and measures in this
process, alternating the two: single-stream greedy decode tokens/s (prefill excluded by
differencing) and the throughput of 16 ragged requests (prompts 20-200 tokens, long-tailed
budgets) at batch 16, with the peak memory each adds. The measurements are those of
`bench_generation.py`, on the MoE model. On a CPU shared with other busy processes, two
threads per process make every matmul wait for a stolen core (we saw 16x slower expert
matmuls); `--threads 1` then gives the fairer comparison.
"""

from __future__ import annotations

import argparse
import resource
from dataclasses import replace

import torch
from bench_generation import many_requests, single_stream, weights_bytes
from machine import load_line

from reasoning.model.config import PRESETS
from reasoning.model.moe import parameter_counts
from reasoning.model.qwen3 import Qwen3Model


def build_models(layers: int, dtype: torch.dtype, device: torch.device) -> tuple[Qwen3Model, torch.nn.Module]:
    """Our model with random weights (made directly in `dtype`), and transformers' model on the same tensors."""
    import transformers

    config = replace(PRESETS["30B-A3B-2507"], num_layers=layers, max_position_embeddings=4096)
    with torch.device("meta"):
        ours = Qwen3Model(config)
    ours = ours.to_empty(device=device).to(dtype).eval()
    generator = torch.Generator(device).manual_seed(0)
    with torch.no_grad():
        for name, param in ours.named_parameters():
            if name.endswith("norm.weight"):
                param.fill_(1.0)
            else:
                param.normal_(0, 0.02, generator=generator)
    hf_fields = {k: v for k, v in config.to_hf().items() if k not in ("architectures", "torch_dtype")}
    hf_config = transformers.Qwen3MoeConfig(**hf_fields)
    with torch.device("meta"):
        reference = transformers.Qwen3MoeForCausalLM(hf_config)
    state = {(name if name.startswith("lm_head.") else "model." + name): tensor for name, tensor in ours.state_dict().items()}
    reference.load_state_dict(state, assign=True)
    with torch.device(device):  # buffers are not in the state dict: build them for real
        reference.model.rotary_emb = type(reference.model.rotary_emb)(config=hf_config)
    return ours, reference.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--prompt-len", type=int, default=32, help="single-stream prompt length")
    parser.add_argument("--new-tokens", type=int, default=32, help="single-stream decode tokens")
    parser.add_argument("--repeats", type=int, default=3, help="single-stream runs of each (best counts)")
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--mean-new-tokens", type=float, default=32)
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--workload-repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--compile", action="store_true", help="torch.compile our decode step")
    parser.add_argument("--skip", choices=["single", "many"], help="leave one measurement out")
    args = parser.parse_args()
    args.book = False  # the book has no MoE model
    if args.threads:
        torch.set_num_threads(args.threads)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    ours, reference = build_models(args.layers, dtype, device)
    total, active = parameter_counts(ours)
    gib = 2**30
    print(
        f"bench_moe: Qwen3-30B-A3B shape, {args.layers} layers, random weights, {args.dtype}, {device}, "
        f"{torch.get_num_threads()} threads; {total / 1e9:.2f} B parameters ({weights_bytes(ours) / gib:.2f} GiB, "
        f"shared by both), {active / 1e9:.2f} B active per token"
    )
    print(load_line())
    if args.skip != "single":
        (mine, theirs), extra = single_stream(ours, reference, args, device)
        print(f"single-stream decode   ours {mine:7.2f} tok/s   transformers {theirs:7.2f} tok/s   ratio {mine / theirs:.2f}x")
        print(f"first call of the process (prefill and set-up included)   ours {extra['first']:7.2f} tok/s")
    if args.skip == "many":
        return
    r = many_requests(ours, reference, args, device)
    print(
        f"{args.requests} requests (budgets median {r['median_budget']} mean {r['tokens'] / args.requests:.0f} "
        f"max {r['max_budget']}, batch {args.max_batch_size}): ours {r['tokens'] / r['ours_s']:7.2f} tok/s "
        f"({r['ours_s']:.0f} s)   transformers {r['tokens'] / r['hf_s']:7.2f} tok/s ({r['hf_s']:.0f} s)   "
        f"ratio {r['hf_s'] / r['ours_s']:.2f}x"
    )
    print(
        f"peak memory added     ours {r['ours_mem'] / gib:6.2f} GiB   transformers {r['hf_mem'] / gib:6.2f} GiB   "
        f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB"
    )
    if device.type == "cuda":
        print(f"CUDA peak allocated {torch.cuda.max_memory_allocated(device) / gib:.2f} GiB")


if __name__ == "__main__":
    main()
