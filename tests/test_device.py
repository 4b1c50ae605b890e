"""Device and dtype selection, and seeding."""

from __future__ import annotations

import os
import platform
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from reasoning.device import available_devices, default_dtype, get_device, seed_everything


def test_auto_picks_the_first_available_device():
    assert get_device("auto").type == available_devices()[0].split(":")[0]
    assert available_devices()[-1] == "cpu"


def test_explicit_names_are_honoured():
    assert get_device("cpu") == torch.device("cpu")
    assert get_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("name", ["cuda:7", "mps", "xpu:3"])
def test_device_that_is_not_here_is_a_clear_error(name):
    if name in available_devices():
        pytest.skip(f"{name} exists on this machine")
    with pytest.raises(ValueError, match=rf"device '{name}' is not available here; available: .*cpu"):
        get_device(name)


def test_nonsense_device_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        get_device("gpu0")


def test_default_dtype_is_bf16_or_fp32():
    assert default_dtype("cpu") in (torch.bfloat16, torch.float32)
    assert default_dtype("meta") == torch.float32


def test_seed_everything_reproduces_every_generator():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3), torch.rand(3, generator=generator)

    generator = seed_everything(123)
    first = draw()
    generator = seed_everything(123)
    second = draw()
    assert first[:2] == second[:2]
    assert torch.equal(first[2], second[2]) and torch.equal(first[3], second[3])
    generator = seed_everything(124)
    assert draw()[0] != first[0]


FAULTS = """
import resource, sys, torch
from reasoning.generation.engine import Engine
from reasoning.generation.sampling import SamplingParams, choose_tokens
from reasoning.model.config import Qwen3Config
from reasoning.model.qwen3 import Qwen3Model
if sys.argv[1] == "engine":
    tiny = Qwen3Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, num_kv_heads=1, head_dim=16)
    Engine(Qwen3Model(tiny))
logits = torch.randn(8, 151_936).bfloat16()  # a batch of Qwen3 logits; R1's top-p allocates ~25 MB per step
keys, counters, params = torch.arange(8), torch.zeros(8, dtype=torch.long), SamplingParams(0.6, 0, 0.95)
for _ in range(3):
    choose_tokens(logits, params, keys, counters)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    choose_tokens(logits, params, keys, counters)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tunes glibc's malloc")
def test_an_engine_on_a_cpu_reuses_each_steps_freed_memory():
    """Without `keep_freed_memory`, glibc unmapped the sampler's temporaries at every free and each
    step page-faulted them in again (~5,900 page faults per batch-8 top-p step measured)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    faults = {}
    for case in ("plain", "engine"):
        run = subprocess.run([sys.executable, "-c", FAULTS, case], capture_output=True, text=True, env=environment, check=True)
        faults[case] = float(run.stdout.split()[-1])
    assert faults["engine"] * 10 < faults["plain"], faults  # the same blocks reused step after step
