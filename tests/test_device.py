"""Device and dtype selection, and seeding."""

from __future__ import annotations

import random

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
