"""Size of every Qwen3 preset, and forward-pass time of the 0.6B preset against transformers.

Parameter counts come from models built on the meta device (no memory). The timing builds
the 0.6B preset with random weights, copies the same weights into transformers'
Qwen3ForCausalLM, and times both in this process: a prefill of `--prompt` tokens and a
cached one-token decode step (the step generation repeats).

    python evals/bench_model.py [--dtype bf16] [--prompt 128] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from reasoning.model.cache import KVCache
from reasoning.model.config import PRESETS, Qwen3Config
from reasoning.model.qwen3 import Qwen3Model

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}


def size_table() -> list[tuple[str, float, float, float, float]]:
    """(preset, parameters in billions, non-embedding billions, GiB in bf16, KV KiB per token in bf16)."""
    rows = []
    for name, config in PRESETS.items():
        with torch.device("meta"):
            model = Qwen3Model(config)
        total = sum(p.numel() for p in model.parameters())
        embedding = model.embed_tokens.weight.numel()
        kv_per_token = 2 * config.num_layers * config.num_kv_heads * config.head_dim * 2
        rows.append((name, total / 1e9, (total - embedding) / 1e9, total * 2 / 2**30, kv_per_token / 2**10))
    return rows


def random_model(config: Qwen3Config, dtype: torch.dtype) -> Qwen3Model:
    """The preset with random weights, initialised directly in `dtype` (no fp32 copy)."""
    with torch.device("meta"):
        model = Qwen3Model(config)
    model = model.to_empty(device="cpu").to(dtype)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                param.fill_(1.0)
            else:
                param.copy_(torch.randn(param.shape, generator=generator, dtype=dtype) * 0.02)
    return model.eval()


def as_transformers(model: Qwen3Model, dtype: torch.dtype):
    """transformers' Qwen3ForCausalLM holding the same weights (the reference)."""
    import transformers

    hf_config = transformers.Qwen3Config(**model.config.to_hf())
    with torch.device("meta"):
        reference = transformers.Qwen3ForCausalLM(hf_config)
    state = {f"model.{k}" if not k.startswith("lm_head") else k: v for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    reference.load_state_dict(state, assign=True)
    reference.model.rotary_emb = type(reference.model.rotary_emb)(hf_config)  # real (non-meta) RoPE table
    return reference.to(dtype).eval()


def best_of(repeats: int, run) -> float:
    """Median seconds of `repeats` calls after one warm-up."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.no_grad()
def time_forward(model: Qwen3Model, reference, prompt: int, repeats: int, dtype: torch.dtype) -> dict[str, float]:
    """Seconds for a prefill of `prompt` tokens and for one cached decode step, ours and reference."""
    from transformers import DynamicCache

    ids = torch.randint(0, 151_000, (1, prompt), generator=torch.Generator().manual_seed(1))
    step = ids[:, :1]
    cache = KVCache.allocate(model.config, batch_size=1, max_len=prompt + 1, dtype=dtype)

    def ours_decode():
        cache.lengths.fill_(prompt)
        model.logits(model(step, cache=cache)[:, -1])

    model(ids, cache=cache)
    hf_cache = DynamicCache(config=reference.config)
    reference(ids, past_key_values=hf_cache, use_cache=True)

    def reference_decode():
        reference(step, past_key_values=hf_cache, use_cache=True, logits_to_keep=1)
        hf_cache.crop(-1)  # back to the prompt, like our lengths.fill_

    return {
        "ours prefill": best_of(repeats, lambda: model.logits(model(ids)[:, -1])),
        "transformers prefill": best_of(repeats, lambda: reference(ids, logits_to_keep=1)),
        "ours decode step": best_of(repeats, ours_decode),
        "transformers decode step": best_of(repeats, reference_decode),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dtype", choices=DTYPES, default="bf16")
    parser.add_argument("--prompt", type=int, default=128, help="prefill length in tokens")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    print("preset  params(B)  non-emb(B)  bf16 GiB  KV KiB/token")
    for name, total, non_embedding, gib, kv in size_table():
        print(f"{name:>6}  {total:9.3f}  {non_embedding:10.3f}  {gib:8.2f}  {kv:12.0f}")

    dtype = DTYPES[args.dtype]
    torch.manual_seed(0)
    model = random_model(PRESETS["0.6B"], dtype)
    reference = as_transformers(model, dtype)
    print(f"\n0.6B forward, {args.dtype}, {torch.get_num_threads()} threads, prompt {args.prompt} tokens:")
    times = time_forward(model, reference, args.prompt, args.repeats, dtype)
    for label, seconds in times.items():
        print(f"  {label:26s} {seconds * 1000:8.1f} ms")
    for phase in ("prefill", "decode step"):
        ratio = times[f"transformers {phase}"] / times[f"ours {phase}"]
        print(f"  {phase}: ours is {ratio:.2f}x transformers")


if __name__ == "__main__":
    main()
