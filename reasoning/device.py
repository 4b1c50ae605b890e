"""Pick the device and dtype to run on, tune the CPU's allocator, and seed every random number generator."""

from __future__ import annotations

import ctypes
import os
import platform
import random

import numpy as np
import torch


def get_device(name: str | torch.device = "auto", *, allow_tf32: bool = True) -> torch.device:
    """The device to run on: CUDA, then Apple MPS, then Intel XPU, then CPU for "auto".

    An explicit name ("cpu", "cuda", "cuda:1", "mps", "xpu") is honoured, and one that does
    not exist here is a ValueError saying what does. `allow_tf32` turns on TF32 matmuls on
    CUDA GPUs of compute capability 8.0 (Ampere) and newer: ~10 bits of mantissa for float32
    matmuls, several times faster, and irrelevant to bf16 work.
    """
    if isinstance(name, torch.device):
        name = str(name)
    if name == "auto":
        device = _first_available()
    else:
        try:
            device = torch.device(name)
        except RuntimeError as error:
            raise ValueError(f"unknown device {name!r}: {error}; available: {', '.join(available_devices())}") from None
        _check_exists(device)
    if device.type == "cuda" and allow_tf32 and torch.cuda.get_device_capability(device)[0] >= 8:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device


def available_devices() -> list[str]:
    """Names of the devices this machine has, best first."""
    names = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if torch.backends.mps.is_available():
        names.append("mps")
    if hasattr(torch, "xpu") and torch.xpu.is_available():
        names += [f"xpu:{i}" for i in range(torch.xpu.device_count())]
    return [*names, "cpu"]


def _first_available() -> torch.device:
    return torch.device(available_devices()[0].split(":")[0])


def _check_exists(device: torch.device) -> None:
    count = {
        "cpu": 1,
        "cuda": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "mps": int(torch.backends.mps.is_available()),
        "xpu": torch.xpu.device_count() if hasattr(torch, "xpu") and torch.xpu.is_available() else 0,
    }.get(device.type, 0)
    index = device.index or 0
    if index >= count:
        raise ValueError(f"device {str(device)!r} is not available here; available: {', '.join(available_devices())}")


def default_dtype(device: torch.device | str) -> torch.dtype:
    """bfloat16 where the device computes it natively and fast, else float32.

    CUDA GPUs from Ampere on, Apple MPS, Intel XPU, and CPUs with oneDNN bf16 kernels (AVX512
    and newer) run bf16 well; there it halves memory traffic, which is what decoding is bound by.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if device.type == "cpu":
        return torch.bfloat16 if _cpu_has_bf16_kernels() else torch.float32
    return torch.bfloat16 if device.type in ("mps", "xpu") else torch.float32


def _cpu_has_bf16_kernels() -> bool:
    """Whether oneDNN has bf16 kernels for this CPU (AVX512 or newer); no public API says so."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(torch.backends.mkldnn.is_available() and check is not None and check())


def describe(device: torch.device | str) -> str:
    """The processor a benchmark ran on, in words: the GPU's name, or the CPU's model (Linux),
    with its bf16 kernels or without: what decides the speed of bf16 on a CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type != "cpu":
        return device.type
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            name = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        name = platform.processor() or "unknown CPU"
    return f"{name} ({'with' if _cpu_has_bf16_kernels() else 'without'} bf16 kernels, {torch.get_num_threads()} threads)"


MMAP_THRESHOLD = 32 << 20  # glibc's largest: blocks up to this size come from the heap and are reused
TRIM_THRESHOLD = 256 << 20  # free memory at the heap's top kept before glibc returns it to the kernel
_freed_memory_kept = False


def keep_freed_memory() -> None:
    """Have glibc's malloc keep freed blocks of up to 32 MiB for reuse (once per process; a no-op
    under another C library, or where the MALLOC_MMAP_THRESHOLD_ variable already chose).

    A decode step on a CPU allocates and frees the same multi-megabyte temporaries every step (a
    batch's logits, the sampler's float64 masses); glibc maps such blocks fresh and unmaps them at
    each free, so every step page-faults its memory in again. Top-p sampling at batch 8 over
    Qwen3's vocabulary took twice as long so, on a 2-core AMD EPYC. PyTorch's CPU tuning guide
    swaps in jemalloc or tcmalloc for the same reason; this keeps glibc and tunes it instead.
    """
    global _freed_memory_kept
    if _freed_memory_kept or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # malloc.h
    _freed_memory_kept = bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD)) and bool(mallopt(m_trim_threshold, TRIM_THRESHOLD))


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); returns a CPU generator seeded likewise."""
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds CUDA, MPS and XPU generators
    return torch.Generator().manual_seed(seed)
