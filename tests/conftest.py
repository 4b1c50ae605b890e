"""Shared fixtures: tiny random Qwen3 checkpoints in the exact Hugging Face layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MATH500 = SHARED / "data" / "math500_test.json"  # all 500 problems, where ../shared holds them
# The file the MATH-500 tests read: all 500 problems if present, else the first five, shipped here,
# so that a fresh clone runs those tests too.
MATH500_FILE = MATH500 if MATH500.is_file() else Path(__file__).parent / "data" / "benchmarks" / "math500_test.json"

# Small enough to run in milliseconds, shaped like the real thing: GQA (4 query heads share
# 2 key/value heads) and head_dim * heads != hidden_size, as in Qwen3-0.6B.
TINY = dict(
    vocab_size=512,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=32,
    max_position_embeddings=256,
    rope_theta=1_000_000.0,
    rms_norm_eps=1e-6,
)


def make_hf_model(tied: bool = True, seed: int = 0, **overrides):
    """A transformers Qwen3ForCausalLM with large random weights (so logits are O(1), not ~0)."""
    import transformers

    torch.manual_seed(seed)
    config = transformers.Qwen3Config(**{**TINY, **overrides}, tie_word_embeddings=tied)
    model = transformers.Qwen3ForCausalLM(config).float().eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                param.copy_(1 + 0.5 * torch.randn_like(param))
            else:
                param.normal_(0, 0.3)
    return model


def save_hf_checkpoint(model, directory: Path, shard_bytes: int | None = None) -> Path:
    """Save with transformers itself, as the hub's checkpoints were saved."""
    kwargs = {"max_shard_size": shard_bytes} if shard_bytes else {}
    model.save_pretrained(directory, **kwargs)
    return directory


@pytest.fixture
def hf_checkpoint(tmp_path):
    """Factory: (transformers model, checkpoint directory) for tied/untied, single/sharded."""

    def build(tied: bool = True, sharded: bool = False, **overrides):
        model = make_hf_model(tied=tied, **overrides)
        directory = save_hf_checkpoint(model, tmp_path / f"tiny-{tied}-{sharded}", 100_000 if sharded else None)
        return model, directory

    return build


@pytest.fixture
def one_thread():
    """Tiny models run faster on one thread: OpenMP synchronisation costs more than their matmuls,
    and on a busy machine a second thread waits on a stolen core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def free_port() -> int:
    """A local TCP port nothing listens on (for a process group's rendezvous, or a closed endpoint)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def closed_endpoint(monkeypatch):
    """HF_ENDPOINT at a local port where nothing listens: the hub is offline, at once and for sure."""
    port = free_port()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return f"http://127.0.0.1:{port}"
