"""What a benchmark says about the machine it ran on: the CPU, the load, the memory bandwidth.

A decoded token reads every weight once, so a CPU's decode speed is bounded by its memory
bandwidth divided by the bytes read per token; `bandwidth()` measures that bandwidth here, in
this process, so a benchmark can print the fraction of the bound it reaches.
"""

from __future__ import annotations

import os
import time

import torch

BUSY = 0.5  # a one-minute load average above this (other processes computing) makes timings low


def load_line() -> str:
    """The load average, with a warning when other processes compute."""
    load = os.getloadavg()[0]
    warning = f"  WARNING: the machine is busy (load above {BUSY}); figures will be low" if load > BUSY else ""
    return f"load average {load:.2f} on {os.cpu_count()} cores{warning}"


def bandwidth(mebibytes: int = 512, repeats: int = 5) -> dict[str, float]:
    """Memory bandwidth in GB/s, best of `repeats`: "read" (a sum over a bf16 array far larger than
    any cache, what streaming weights needs) and "copy" (STREAM's copy: bytes read plus written)."""
    source = torch.ones(mebibytes * 2**20 // 2, dtype=torch.bfloat16)
    target = torch.empty_like(source)
    nbytes = source.numel() * source.element_size()
    read = copy = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        source.sum()
        read = min(read, time.perf_counter() - start)
        start = time.perf_counter()
        target.copy_(source)
        copy = min(copy, time.perf_counter() - start)
    return {"read": nbytes / read / 1e9, "copy": 2 * nbytes / copy / 1e9}


def bytes_per_token(model: torch.nn.Module) -> int:
    """Weight bytes one decoded token reads: every parameter, but only a row of an embedding that is
    not also the LM head."""
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    embedding = getattr(model, "embed_tokens", None)
    tied = embedding is not None and getattr(model, "lm_head", None) is None
    if embedding is not None and not tied:
        total -= embedding.weight.numel() * embedding.weight.element_size()
    return total
