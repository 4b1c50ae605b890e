"""What a benchmark says about the machine it ran on: the CPU, the load, the memory bandwidth.

A decoded token reads every weight once, so a CPU's decode speed is bounded by its memory
bandwidth divided by the bytes read per token; `read_probe()` measures that bandwidth here, in
this process, between the runs it times, so a benchmark can print the fraction of the bound it
reaches under the same conditions.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

import torch

BUSY = 0.5  # a one-minute load average above this (other processes computing) makes timings low


def load_line() -> str:
    """The load average, with a warning when other processes compute."""
    load = os.getloadavg()[0]
    warning = f"  WARNING: the machine is busy (load above {BUSY}); figures will be low" if load > BUSY else ""
    return f"load average {load:.2f} on {os.cpu_count()} cores{warning}"


def read_probe(mebibytes: int = 512, repeats: int = 3) -> Callable[[], float]:
    """A timed memory read: each call returns seconds per GB, the best of `repeats` sums over a
    bf16 array far larger than any cache (what streaming weights needs). Called between the runs
    a benchmark times, it sees the same neighbours on a shared machine as they do."""
    source = torch.ones(mebibytes * 2**20 // 2, dtype=torch.bfloat16)

    def read() -> float:
        seconds = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            source.sum()
            seconds = min(seconds, time.perf_counter() - start)
        return seconds / (source.numel() * source.element_size() / 1e9)

    return read


def copy_bandwidth(mebibytes: int = 512, repeats: int = 5) -> float:
    """STREAM's copy in GB/s, bytes read plus written, best of `repeats`."""
    source = torch.ones(mebibytes * 2**20 // 2, dtype=torch.bfloat16)
    target = torch.empty_like(source)
    seconds = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        target.copy_(source)
        seconds = min(seconds, time.perf_counter() - start)
    return 2 * source.numel() * source.element_size() / seconds / 1e9


def tokens_per_second_bound(gigabytes_per_second: float, per_token: int) -> float:
    """The most tokens/s decoding can reach streaming `per_token` bytes at that bandwidth."""
    return gigabytes_per_second * 1e9 / per_token


def bytes_per_token(model: torch.nn.Module) -> int:
    """Weight bytes one decoded token reads: every parameter, but only a row of an embedding that is
    not also the LM head."""
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    embedding = getattr(model, "embed_tokens", None)
    tied = embedding is not None and getattr(model, "lm_head", None) is None
    if embedding is not None and not tied:
        total -= embedding.weight.numel() * embedding.weight.element_size()
    return total
