"""evals/machine.py: what a benchmark's bandwidth fraction is computed from."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evals"))
from machine import bytes_per_token, copy_bandwidth, read_probe, tokens_per_second_bound  # noqa: E402

from reasoning.model.config import Qwen3Config  # noqa: E402
from reasoning.model.qwen3 import Qwen3Model  # noqa: E402

TINY = dict(vocab_size=500, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, num_kv_heads=1, head_dim=16)


def test_a_token_reads_every_weight_once_and_one_embedding_row():
    tied, untied = (Qwen3Model(Qwen3Config(**TINY, tie_word_embeddings=tie)).to(torch.bfloat16) for tie in (True, False))
    embedding = 500 * 32 * 2  # bytes of the [vocab, hidden] bf16 table
    assert bytes_per_token(tied) == sum(p.numel() * 2 for p in tied.parameters())  # the table is the LM head: read whole
    assert bytes_per_token(untied) == sum(p.numel() * 2 for p in untied.parameters()) - embedding  # only a row of it


def test_the_read_probe_gives_seconds_per_gigabyte():
    seconds = read_probe(mebibytes=16, repeats=2)()
    assert math.isfinite(seconds) and 1e-4 < seconds < 10  # between 0.1 GB/s and 10 TB/s


def test_the_bound_is_bandwidth_over_bytes_per_token():
    assert tokens_per_second_bound(30.0, 1_200_000_000) == 25.0  # 30 GB/s over 1.2 GB a token


def test_the_copy_bandwidth_is_in_gigabytes_per_second():
    assert 0.1 < copy_bandwidth(mebibytes=16, repeats=2) < 10_000  # GB/s
