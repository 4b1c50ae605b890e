"""`reasoning info`: the KV cache a token takes, readable for tiny and large models alike."""

from __future__ import annotations

import json

import pytest

from reasoning.cli import main


def kv_line(capsys) -> str:
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("KV cache per token")]
    return line.removeprefix("KV cache per token").strip()


@pytest.mark.usefixtures("closed_endpoint")
def test_the_kv_cache_per_token_of_a_tiny_checkpoint_is_not_rounded_to_zero(hf_checkpoint, capsys):
    _, directory = hf_checkpoint()
    config = json.loads((directory / "config.json").read_text())
    size = 2 * config["num_hidden_layers"] * config["num_key_value_heads"] * config["head_dim"] * 2  # keys and values, bf16
    assert main(["info", "--model", str(directory)]) == 0
    assert kv_line(capsys) == f"{size} bytes in bf16"


def test_the_kv_cache_per_token_of_a_preset_is_in_kib_with_its_bytes(capsys):
    assert main(["info", "--model", "0.6B"]) == 0
    size = 2 * 28 * 8 * 128 * 2  # Qwen3-0.6B: 28 layers, 8 key/value heads of 128
    assert kv_line(capsys) == f"{size // 1024} KiB ({size:,} bytes) in bf16"
