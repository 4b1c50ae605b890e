"""The book's .pth checkpoints: a state dict saved from reasoning-from-scratch's Qwen3Model gives
our model the same logits, directly and through `reasoning convert` to the Hugging Face layout."""

from __future__ import annotations

import pytest
import torch

from reasoning.book import BookCheckpointError, book_state_dict, load_book_checkpoint
from reasoning.checkpoint import load_pretrained
from reasoning.cli import main

book = pytest.importorskip("reasoning_from_scratch.qwen3", reason="the book's package (pip install --no-deps reasoning-from-scratch)")

TINY = dict(book.QWEN_CONFIG_06_B, emb_dim=64, hidden_dim=128, n_layers=2, n_heads=4, n_kv_groups=2, head_dim=32,
            vocab_size=512, context_length=256, dtype=torch.float32)  # fmt: skip


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny book model with random weights (an untied head) and its .pth state dict."""
    torch.manual_seed(0)
    model = book.Qwen3Model(TINY).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.3) if param.dim() > 1 else param.copy_(1 + 0.2 * torch.randn_like(param))
    path = tmp_path_factory.mktemp("book") / "qwen3-tiny.pth"
    torch.save(model.state_dict(), path)
    return model, path


def book_logits(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(ids)


def test_a_book_checkpoint_gives_the_books_logits(saved):
    model, path = saved
    ours = load_book_checkpoint(path, preset="0.6B")
    ids = torch.randint(0, 512, (2, 17), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = ours.logits(ours(ids))
    torch.testing.assert_close(logits, book_logits(model, ids), atol=1e-4, rtol=1e-4)
    assert (ours.config.num_layers, ours.config.num_heads, ours.config.num_kv_heads, ours.config.tie_word_embeddings) == (2, 4, 2, False)


def test_a_compiled_or_ddp_wrapped_models_names_load_the_same(saved, tmp_path):
    """torch.compile saves `_orig_mod.` names and DDP `module.` ones; chapter 6 saves with its optimizer."""
    model, _ = saved
    path = tmp_path / "wrapped.pth"
    state = {f"module._orig_mod.{name}": tensor for name, tensor in model.state_dict().items()}
    torch.save({"model_state_dict": state, "optimizer_state_dict": {}}, path)
    ours = load_book_checkpoint(path, preset="0.6B")
    ids = torch.arange(9)[None]
    with torch.no_grad():
        torch.testing.assert_close(ours.logits(ours(ids)), book_logits(model, ids), atol=1e-4, rtol=1e-4)


def test_convert_writes_a_hugging_face_checkpoint_with_the_same_logits(saved, tmp_path, capsys):
    model, path = saved
    assert main(["convert", str(path), str(tmp_path / "hf"), "--kind", "base"]) == 0
    assert "-> " in capsys.readouterr().out
    converted, tokenizer = load_pretrained(tmp_path / "hf", device="cpu", dtype=torch.float32)
    ids = torch.randint(0, 512, (1, 9), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(converted.logits(converted(ids)), book_logits(model, ids), atol=1e-4, rtol=1e-4)
    assert tokenizer.base
    assert main(["convert", str(path), str(tmp_path / "hf")]) == 2  # refused: a checkpoint is there
    assert "--overwrite" in capsys.readouterr().err
    assert main(["convert", str(path), str(tmp_path / "hf"), "--overwrite"]) == 0


def test_wrong_files_are_refused_by_name(saved, tmp_path):
    _, path = saved
    state = torch.load(path, weights_only=True)
    renamed = {("trf_blocks.0.attention.W_query.weight" if k == "trf_blocks.0.att.W_query.weight" else k): v for k, v in state.items()}
    torch.save(renamed, tmp_path / "renamed.pth")
    with pytest.raises(BookCheckpointError, match="'trf_blocks.0.attention.W_query.weight' is not a weight"):
        book_state_dict(tmp_path / "renamed.pth")
    state["trf_blocks.1.ff.fc1.weight"] = torch.zeros(96, 64)
    torch.save(state, tmp_path / "ragged.pth")
    with pytest.raises(BookCheckpointError, match="layers.1.mlp.gate_proj.weight is \\(96, 64\\)"):
        load_book_checkpoint(tmp_path / "ragged.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(BookCheckpointError, match="not a plain state dict"):
        book_state_dict(tmp_path / "junk.pth")
