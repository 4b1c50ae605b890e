"""Low-rank adapters (LoRA, Hu et al. 2021) on our Qwen3 model, through PEFT, in PEFT's own format.

`add_lora` puts PEFT's LoRA layers on the attention and MLP projections of our modules
(`inject_adapter_in_model`) and freezes everything else, so only the adapters get gradients
and optimizer state: what lets a 0.6B model train on a consumer GPU. `save_lora` writes
adapter_config.json and adapter_model.safetensors as PEFT does for a Hugging Face
Qwen3ForCausalLM, so transformers + PEFT and vLLM load the adapter onto the hub checkpoint;
`merge_lora` folds the adapters into the weights (a plain checkpoint again) and `save_merged`
writes that as a full checkpoint; `lora_disabled` runs the base model without a second copy in
memory (the KL reference in GRPO).

Needs the `peft` package (`pip install 'reasoning[lora]'`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from reasoning.adapter_files import CONFIG_FILE, WEIGHTS_FILE
from reasoning.checkpoint import save_pretrained, save_tensors, written_whole
from reasoning.tokenizer import Qwen3Tokenizer

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
_HUB_PREFIX = "base_model.model.model."  # PEFT's names for a Qwen3ForCausalLM's decoder
MERGED_DIR = "merged"  # under a run's directory: the final model with its adapters folded in (--merge)
_ADAPTER = "default"  # the name PEFT gives the one adapter inject_adapter_in_model adds


@dataclass(frozen=True)
class LoraSettings:
    """Rank, scale (alpha / rank) and dropout of the adapters, and the projections they go on."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.0
    targets: tuple[str, ...] = PROJECTIONS

    def __post_init__(self) -> None:
        if self.rank < 1 or self.alpha <= 0 or not 0 <= self.dropout < 1:
            raise ValueError(f"LoRA needs rank >= 1, alpha > 0 and dropout in [0, 1), got {self.rank}, {self.alpha}, {self.dropout}")
        unknown = sorted(set(self.targets) - set(PROJECTIONS))
        if unknown or not self.targets:
            raise ValueError(f"LoRA targets must be among {', '.join(PROJECTIONS)}, got {list(self.targets)}")


def _peft():
    try:
        import peft
    except ImportError as error:
        raise ImportError("LoRA needs PEFT: pip install 'reasoning[lora]'") from error
    return peft


def add_lora(model: nn.Module, settings: LoraSettings = LoraSettings(), *, seed: int | None = None) -> nn.Module:
    """Put LoRA adapters on `model`'s projections (in place) and freeze all other weights.

    With `seed`, the adapters' random starting weights (PEFT draws A on the CPU; B starts at
    zero) come from a CPU generator seeded with it, so two runs with one seed start alike, and
    torch's global streams are left as they were (dropout, sampling)."""
    if has_lora(model):
        raise ValueError("the model already has LoRA adapters: pass it without them, or lora_rank=0 to train those")
    peft = _peft()
    config = peft.LoraConfig(
        r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout, target_modules=list(settings.targets),
        task_type="CAUSAL_LM",
    )  # fmt: skip
    with _cpu_seeded(seed):
        peft.inject_adapter_in_model(config, model)
    for name, parameter in model.named_parameters():
        parameter.requires_grad_("lora_" in name)
    model.lora_config = config
    return model


@contextmanager
def _cpu_seeded(seed: int | None) -> Iterator[None]:
    """Within: the CPU generator seeded with `seed`, restored after (None: left alone)."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):  # the CPU stream only: CUDA's are not touched
        torch.random.default_generator.manual_seed(seed)
        yield


def check_merge(lora_rank: int, merge: bool) -> None:
    """Refuse `merge` without adapters to fold in (before any model is loaded)."""
    if merge and not lora_rank:
        raise ValueError("--merge folds LoRA adapters into the weights: it needs --lora-rank > 0 (a full fine-tune's checkpoints are full already)")


def has_lora(model: nn.Module) -> bool:
    return hasattr(model, "lora_config")


def save_lora(model: nn.Module, out_dir: str | Path, base_model: str | None = "Qwen/Qwen3-0.6B") -> Path:
    """Write the adapters in PEFT's format (adapter_config.json, adapter_model.safetensors);
    `base_model` (a hub id or path; None when there is none) is what they were trained on."""
    if not has_lora(model):
        raise ValueError("the model has no LoRA adapters (add_lora first)")
    peft = _peft()
    state = peft.get_peft_model_state_dict(model)
    config = model.lora_config.to_dict()
    config.update(base_model_name_or_path=base_model, target_modules=sorted(config["target_modules"]))
    with written_whole(out_dir) as directory:  # a full disk leaves out_dir as it was
        save_tensors({_HUB_PREFIX + name: tensor.detach().contiguous().cpu() for name, tensor in state.items()}, directory / WEIGHTS_FILE)
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2, default=str) + "\n")
    return Path(out_dir)


def load_lora(model: nn.Module, adapter_dir: str | Path) -> nn.Module:
    """Add the adapters saved in `adapter_dir` (PEFT's format) to `model`, in place."""
    directory = Path(adapter_dir)
    weights = read_adapter(directory)
    saved = json.loads((directory / CONFIG_FILE).read_text())
    settings = LoraSettings(saved["r"], saved["lora_alpha"], saved.get("lora_dropout", 0.0), tuple(saved["target_modules"]))
    add_lora(model, settings)
    result = model.load_state_dict(weights, strict=False)
    missing = [name for name in result.missing_keys if "lora_" in name]
    if missing or result.unexpected_keys:
        raise ValueError(f"{directory / WEIGHTS_FILE} does not fit the model: {(missing or result.unexpected_keys)[0]}")
    return model


def read_adapter(adapter_dir: str | Path) -> dict[str, torch.Tensor]:
    """The adapter weights saved in `adapter_dir`, under the state-dict names of a model with
    `add_lora`'s adapters (PEFT inserts its adapter name, "default"), to load one sharded or not."""
    directory = Path(adapter_dir)
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory / name} not found: not a PEFT adapter directory")
    return {_model_name(name): tensor for name, tensor in load_file(directory / WEIGHTS_FILE).items()}


def _model_name(saved: str) -> str:
    """`base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight` -> `layers.0.self_attn.q_proj.lora_A.default.weight`."""
    name = saved.removeprefix(_HUB_PREFIX)
    for matrix in ("lora_A", "lora_B"):
        name = name.replace(f".{matrix}.", f".{matrix}.{_ADAPTER}.")
    return name


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold the adapters into the weights and remove them: a plain model again, in place."""
    for name, layer in _lora_layers(model).items():
        layer.merge()
        _replace(model, name, layer.get_base_layer())
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    del model.lora_config
    return model


def save_merged(model: nn.Module, tokenizer: Qwen3Tokenizer | None, out_dir: str | Path) -> Path:
    """Write `model` with its adapters folded in as a plain Hugging Face checkpoint (`save_pretrained`).

    Each adapted weight is merged as its shard is written (weight + its adapter's delta, as
    `merge_lora` computes it), so no copy of the model is made (on a GPU, one tensor at a time)
    and the live model keeps its adapters exactly (merge then unmerge would round).
    """
    if not has_lora(model):
        raise ValueError("the model has no LoRA adapters to merge (add_lora first)")
    layers = _lora_layers(model)

    @torch.no_grad()
    def merged(name: str, weight: torch.Tensor) -> torch.Tensor:
        layer = layers.get(name.removesuffix(".weight"))
        return weight if layer is None else (weight + layer.get_delta_weight(_ADAPTER)).to(weight.dtype)  # as PEFT's in-place add

    try:  # the base layers in the adapters' places, so the model is saved under the plain names
        for name, layer in layers.items():
            _replace(model, name, layer.get_base_layer())
        return save_pretrained(model, tokenizer, out_dir, finish=merged)
    finally:
        for name, layer in layers.items():
            _replace(model, name, layer)


def _lora_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The model's PEFT LoRA layers by module name."""
    lora_layer = _peft().tuners.lora.LoraLayer
    return {name: module for name, module in model.named_modules() if isinstance(module, lora_layer)}


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent), child, module)


@contextmanager
def lora_disabled(model: nn.Module) -> Iterator[nn.Module]:
    """The base model, adapters off, for the duration (no second copy of the weights)."""
    layers = _lora_layers(model).values()
    for layer in layers:
        layer.enable_adapters(False)
    try:
        yield model
    finally:
        for layer in layers:
            layer.enable_adapters(True)
