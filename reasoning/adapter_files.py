"""LoRA adapter directories in PEFT's format, read without PEFT: the base model an adapter names
and the low-rank change it makes to each of the base's weights, so that a command can load an
adapter as a model (the base with the adapter merged in; `reasoning.checkpoint.load_pretrained`).

An adapter directory holds adapter_config.json (rank, alpha, base_model_name_or_path) and
adapter_model.safetensors: for each adapted linear layer, `lora_A` [r, in] and `lora_B` [out, r]
under PEFT's names for a Hugging Face causal LM (`base_model.model.model.layers.0.self_attn.
q_proj.lora_A.weight`). Merged, the layer's weight is W + scale * B @ A with scale = alpha / r
(alpha / sqrt(r) with rsLoRA), as PEFT merges it. `reasoning.lora.save_lora` and LoRA training
checkpoints write such directories, and so do PEFT and TRL.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

CONFIG_FILE, WEIGHTS_FILE = "adapter_config.json", "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."  # what PEFT puts before a Hugging Face causal LM's own tensor names
FACTORS = (".lora_A.weight", ".lora_B.weight")


@dataclass(frozen=True)
class LowRank:
    """One adapted weight's change, scale * B @ A."""

    a: torch.Tensor  # [r, in]
    b: torch.Tensor  # [out, r]
    scale: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.b.shape[0], self.a.shape[1]

    def merged_into(self, weight: torch.Tensor) -> torch.Tensor:
        """weight + B @ A * scale in float32, as PEFT computes it (the caller casts it to the model's dtype once)."""
        a, b = self.a.to(weight.device, torch.float32), self.b.to(weight.device, torch.float32)
        return weight.float() + (b @ a) * self.scale


def is_adapter_dir(path: str | Path) -> bool:
    """Whether `path` is a directory holding a PEFT adapter and no full model (no config.json)."""
    path = Path(path).expanduser()
    return (path / CONFIG_FILE).is_file() and not (path / "config.json").is_file()


def model_name(name_or_path: str | Path) -> str | Path:
    """The full model a command line's --model stands for: an adapter directory's base, else itself."""
    return resolve(name_or_path)[0]


def resolve(name_or_path: str | Path) -> tuple[str | Path, list[Path]]:
    """(the full model, the adapter directories over it, lowest first) of a name: an adapter's base
    may be an adapter itself (one trained from a LoRA checkpoint); a plain name has no adapters."""
    adapters: list[Path] = []
    while is_adapter_dir(name_or_path):
        directory = Path(name_or_path).expanduser()
        if any(directory.samefile(seen) for seen in adapters):
            raise ValueError(f"{directory / CONFIG_FILE}: its base model leads back to itself")
        adapters.insert(0, directory)
        name_or_path = base_model(directory)
    return name_or_path, adapters


def base_model(adapter_dir: str | Path) -> str:
    """The base model (a hub id or a directory) that an adapter's config names."""
    path = Path(adapter_dir).expanduser() / CONFIG_FILE
    base = _read_config(path).get("base_model_name_or_path")
    if not isinstance(base, str) or not base:
        raise ValueError(
            f"{path} names no base model (base_model_name_or_path): set it to the hub id or directory of the model "
            f"the adapter was trained on, or merge the adapter into its base (train ... --merge) and pass that"
        )
    return base


def read_low_rank(adapter_dir: str | Path) -> dict[str, LowRank]:
    """The adapter's change to each adapted weight of the base, by the weight's name in a Hugging
    Face checkpoint (`model.layers.0.self_attn.q_proj.weight`); ValueError, naming the file, for
    what does not merge into plain weights (DoRA, per-module alphas, other trained tensors)."""
    directory = Path(adapter_dir).expanduser()
    config = _read_config(directory / CONFIG_FILE)
    kind = config.get("peft_type", "LORA")
    unmergeable = [f"peft_type {kind}"] if kind != "LORA" else []
    unmergeable += [option for option in ("use_dora", "fan_in_fan_out", "alpha_pattern") if config.get(option)]
    if unmergeable:
        raise ValueError(
            f"{directory / CONFIG_FILE}: only plain LoRA adapters load as a model here, not one with {', '.join(unmergeable)}: "
            f"merge it into its base with PEFT (merge_and_unload) and pass the merged checkpoint"
        )
    alpha, rank = config.get("lora_alpha"), config.get("r")
    if not isinstance(alpha, int | float) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"{directory / CONFIG_FILE}: 'lora_alpha' and 'r' must be numbers, got {alpha!r} and {rank!r}")
    file = directory / WEIGHTS_FILE
    try:
        tensors = load_file(file)
    except (SafetensorError, OSError) as error:
        raise ValueError(f"{file} is not a readable safetensors file ({error})") from None
    factors: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        kind = next((suffix for suffix in FACTORS if key.endswith(suffix)), None)
        if kind is None or not key.startswith(PEFT_PREFIX) or tensor.dim() != 2:
            raise ValueError(f"{file}: {key} is not a LoRA factor of a linear layer (lora_A, lora_B): such adapters do not merge here")
        factors.setdefault(key.removeprefix(PEFT_PREFIX).removesuffix(kind) + ".weight", {})[kind] = tensor
    changes = {}
    for name, pair in factors.items():
        a, b = pair.get(FACTORS[0]), pair.get(FACTORS[1])
        if a is None or b is None or a.shape[0] != b.shape[1]:
            raise ValueError(f"{file}: the LoRA factors of {name} are incomplete or do not fit each other")
        r = a.shape[0]  # per layer: a rank_pattern may give layers their own rank
        changes[name] = LowRank(a, b, alpha / (math.sqrt(r) if config.get("use_rslora") else r))
    return changes


def _read_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path} is not a JSON object")
    return config
