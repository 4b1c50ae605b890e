"""Checkpoints of the book's from-scratch Qwen3: its `.pth` state dicts, loaded into our model.

*Build a Reasoning Model (From Scratch)* publishes its models (base, reasoning, and the
chapter 6-8 GRPO and distilled ones) as state dicts of the `reasoning_from_scratch` package's
`Qwen3Model`: `tok_emb`, `trf_blocks.N.att.W_query`, `ff.fc1`, `norm1.scale`, `out_head`, ...
The shapes are those of the Hugging Face checkpoints, so loading is a renaming. The file is
read with `torch.load(weights_only=True)`: tensors only, no pickled code runs. A `.pth`
holds no RoPE base or context length, so those come from a preset (0.6B by default); every
shape is checked against it, and `convert` writes the result in the Hugging Face layout.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from reasoning.model.config import Qwen3Config
from reasoning.model.qwen3 import Qwen3Model

# The book's names -> ours (the Hugging Face ones, without the "model." prefix).
_RENAMES = [
    (r"tok_emb\.weight", "embed_tokens.weight"),
    (r"final_norm\.scale", "norm.weight"),
    (r"out_head\.weight", "lm_head.weight"),
    (r"trf_blocks\.(\d+)\.att\.W_query\.weight", r"layers.\1.self_attn.q_proj.weight"),
    (r"trf_blocks\.(\d+)\.att\.W_key\.weight", r"layers.\1.self_attn.k_proj.weight"),
    (r"trf_blocks\.(\d+)\.att\.W_value\.weight", r"layers.\1.self_attn.v_proj.weight"),
    (r"trf_blocks\.(\d+)\.att\.out_proj\.weight", r"layers.\1.self_attn.o_proj.weight"),
    (r"trf_blocks\.(\d+)\.att\.q_norm\.scale", r"layers.\1.self_attn.q_norm.weight"),
    (r"trf_blocks\.(\d+)\.att\.k_norm\.scale", r"layers.\1.self_attn.k_norm.weight"),
    (r"trf_blocks\.(\d+)\.ff\.fc1\.weight", r"layers.\1.mlp.gate_proj.weight"),
    (r"trf_blocks\.(\d+)\.ff\.fc2\.weight", r"layers.\1.mlp.up_proj.weight"),
    (r"trf_blocks\.(\d+)\.ff\.fc3\.weight", r"layers.\1.mlp.down_proj.weight"),
    (r"trf_blocks\.(\d+)\.norm1\.scale", r"layers.\1.input_layernorm.weight"),
    (r"trf_blocks\.(\d+)\.norm2\.scale", r"layers.\1.post_attention_layernorm.weight"),
]


class BookCheckpointError(ValueError):
    """A .pth file that is not a state dict of the book's Qwen3Model, or not of the expected shape."""


def book_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a book checkpoint under our names (tensors only; nothing is executed)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a pickle with code in it, or not a torch file at all
        raise BookCheckpointError(f"{path} is not a plain state dict of tensors: {error}") from None
    if isinstance(state, dict) and "model_state_dict" in state:  # saved with its optimizer, as chapter 6 does
        state = state["model_state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BookCheckpointError(f"{path} does not hold a state dict of tensors")
    renamed = {}
    for saved, tensor in state.items():
        name = _unwrapped(saved)
        ours = next((re.sub(pattern, target, name) for pattern, target in _RENAMES if re.fullmatch(pattern, name)), None)
        if ours is None:
            raise BookCheckpointError(f"{path}: {saved!r} is not a weight of the book's Qwen3Model")
        renamed[ours] = tensor
    return renamed


def _unwrapped(name: str) -> str:
    """A name without the prefixes a wrapped model adds when saved: torch.compile's `_orig_mod.`, DDP's `module.`."""
    while (inner := name.removeprefix("_orig_mod.").removeprefix("module.")) != name:
        name = inner
    return name


def book_config(state: dict[str, torch.Tensor], preset: str = "0.6B") -> Qwen3Config:
    """The config of a book state dict: shapes read from the tensors, RoPE and context from `preset`."""
    try:
        vocab, hidden = state["embed_tokens.weight"].shape
        head_dim = state["layers.0.self_attn.q_norm.weight"].shape[0]
        config = Qwen3Config.from_name(
            preset, vocab_size=vocab, hidden_size=hidden, head_dim=head_dim,
            num_layers=1 + max(int(name.split(".")[1]) for name in state if name.startswith("layers.")),
            num_heads=state["layers.0.self_attn.q_proj.weight"].shape[0] // head_dim,
            num_kv_heads=state["layers.0.self_attn.k_proj.weight"].shape[0] // head_dim,
            intermediate_size=state["layers.0.mlp.gate_proj.weight"].shape[0],
            tie_word_embeddings="lm_head.weight" not in state or torch.equal(state["lm_head.weight"], state["embed_tokens.weight"]),
        )  # fmt: skip
    except KeyError as missing:
        raise BookCheckpointError(f"the checkpoint lacks {missing.args[0]!r}") from None
    return config


def load_book_checkpoint(
    path: str | Path, *, preset: str = "0.6B", device: torch.device | str = "cpu", dtype: torch.dtype | None = None
) -> Qwen3Model:
    """Our Qwen3Model holding a book checkpoint's weights (in their dtype unless `dtype` is given)."""
    state = book_state_dict(path)
    config = book_config(state, preset)
    if config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    with torch.device("meta"):
        model = Qwen3Model(config)
    expected = {name: tuple(p.shape) for name, p in model.state_dict().items()}
    got = {name: tuple(t.shape) for name, t in state.items()}
    if expected != got:
        wrong = sorted(set(expected) ^ set(got)) or [n for n in expected if expected[n] != got[n]]
        name = wrong[0]
        raise BookCheckpointError(f"{path}: {name} is {got.get(name, 'missing')}, a {preset}-shaped model needs {expected.get(name, 'none')}")
    model.load_state_dict({k: v.to(device=device, dtype=dtype or v.dtype) for k, v in state.items()}, assign=True)
    return model.eval()
