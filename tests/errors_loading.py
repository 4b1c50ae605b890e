"""Bad inputs of loading a model: LoRA adapter directories as --model (rows of error_table)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from error_table import ErrorCase

LAYER = "base_model.model.model.layers.0.self_attn.q_proj"  # PEFT's name of a Hugging Face Qwen3's first query projection


def write_adapter(directory: Path, base: str | None, tensors: dict[str, torch.Tensor] | None = None, **config) -> Path:
    """An adapter directory as PEFT writes it, of rank 2 on the toy model's first query projection."""
    from reasoning.training.toy import TOY_CONFIG

    directory.mkdir()
    inputs, outputs = TOY_CONFIG.hidden_size, TOY_CONFIG.num_heads * TOY_CONFIG.head_dim
    tensors = tensors or {f"{LAYER}.lora_A.weight": torch.zeros(2, inputs), f"{LAYER}.lora_B.weight": torch.zeros(outputs, 2)}
    save_file(tensors, str(directory / "adapter_model.safetensors"))
    settings = {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "base_model_name_or_path": base, **config}
    (directory / "adapter_config.json").write_text(json.dumps(settings))
    return directory


def toy_base(tmp: Path) -> str:
    """A local checkpoint of the toy model, with its tokenizer."""
    from reasoning.checkpoint import save_pretrained
    from reasoning.model.qwen3 import Qwen3Model
    from reasoning.training.toy import TOY_CONFIG, toy_tokenizer

    return str(save_pretrained(Qwen3Model(TOY_CONFIG), toy_tokenizer(), tmp / "base"))


def adapter(base_of: str, **config):
    """A setup: an adapter over `base_of` ("toy": a toy checkpoint, "none": no base named, "itself", else a path under tmp)."""

    def setup(tmp: Path, monkeypatch) -> dict:
        base = {"toy": lambda: toy_base(tmp), "none": lambda: None, "itself": lambda: str(tmp / "adapter")}.get(
            base_of, lambda: str(tmp / base_of)
        )()
        settings = dict(config)
        return {"adapter": write_adapter(tmp / "adapter", base, settings.pop("tensors", None), **settings)}

    return setup


def broken_config(tmp: Path, monkeypatch) -> dict:
    directory = write_adapter(tmp / "adapter", "Qwen/Qwen3-0.6B")
    (directory / "adapter_config.json").write_text('{"r": 2,')
    return {"adapter": directory}


GENERATE = ("generate", "--model", "{adapter}", "--prompt", "1+2=", "--device", "cpu")
HEAD = {"base_model.model.lm_head.weight": torch.zeros(128, 64)}  # modules_to_save: a trained copy of the head

CASES: list[ErrorCase] = [
    ErrorCase("adapter-naming-no-base", GENERATE, ("{adapter}/adapter_config.json names no base model",), adapter("none")),
    ErrorCase("adapter-naming-no-base-info", ("info", "--model", "{adapter}"), ("names no base model",), adapter("none")),
    ErrorCase("adapter-over-itself", GENERATE, ("adapter_config.json: its base model leads back to itself",), adapter("itself")),
    ErrorCase("adapter-base-missing", GENERATE, ("checkpoint directory {tmp}/gone does not exist",), adapter("gone")),
    ErrorCase("adapter-config-not-json", GENERATE, ("{adapter}/adapter_config.json is not valid JSON",), broken_config),
    ErrorCase(
        "adapter-dora", GENERATE, ("only plain LoRA adapters load as a model here, not one with use_dora", "merge_and_unload"),
        adapter("toy", use_dora=True),
    ),
    ErrorCase(
        "adapter-with-a-trained-head", GENERATE, ("base_model.model.lm_head.weight is not a LoRA factor",), adapter("toy", tensors=HEAD)
    ),
]
