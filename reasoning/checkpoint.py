"""Load and save Qwen3 checkpoints in the Hugging Face layout.

A checkpoint directory holds config.json, model.safetensors (or model-0000i-of-0000n
.safetensors shards listed in model.safetensors.index.json) and the tokenizer files. Our
module names equal the Hugging Face ones without the leading "model.", so mapping a
tensor name is a prefix strip; the one exception is the experts of MoE layers, which the hub
stores one tensor per expert and projection (`mlp.experts.{e}.gate_proj.weight`) and our
model stacks per layer (`mlp.experts.gate_up_proj` [E, 2I, H], `mlp.experts.down_proj`).
Weights go straight from the file to the target device and dtype one tensor at a time into
a model built on the meta device, so loading never holds a second full copy of the model.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from reasoning import adapter_files, hub
from reasoning.device import default_dtype, get_device
from reasoning.model.config import PRESETS, Qwen3Config
from reasoning.model.quantize import check_method, is_quantized, quantize_model
from reasoning.model.qwen3 import Qwen3Model
from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer

CONFIG_FILE = "config.json"
GENERATION_CONFIG_FILE = "generation_config.json"
SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
HF_PREFIX = "model."
DEFAULT_SHARD_BYTES = 5 * 2**30


class CheckpointError(ValueError):
    """A checkpoint whose files do not match the model they claim to hold."""


def load_pretrained(
    name_or_path: str | Path,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    quantize: str = "none",
) -> tuple[Qwen3Model, Qwen3Tokenizer]:
    """Load a Qwen3 model and its tokenizer from a hub id, an alias or a local directory.

    A directory holding a LoRA adapter (PEFT's format, as `reasoning.lora.save_lora` and LoRA
    training checkpoints write) loads as its base model with the adapter merged in (and the
    adapters under it, where its base is an adapter too), with the adapter's tokenizer where it
    has one (`reasoning.adapter_files`; no PEFT needed).
    Hub names download only the needed files (cached). `device` defaults to the best one
    here, `dtype` to what that device runs well (see `reasoning.device`); device "meta"
    checks the files and returns the model without allocating it (sizes, parameter counts).
    `quantize="int8"`: int8 weights in the blocks' linear layers (`reasoning.model.quantize`).
    Returns the model in eval mode and the tokenizer.
    """
    check_method(quantize)  # before any download
    name_or_path, adapters = adapter_files.resolve(name_or_path)
    directory = hub.download(name_or_path)
    device = torch.device("meta") if str(device) == "meta" else get_device(device or "auto")
    dtype = dtype or default_dtype(device)
    model = load_model(directory, device=device, dtype=dtype, quantize=quantize, adapters=adapters)
    base = None if Path(str(name_or_path)).is_dir() else hub.is_base_model(hub.resolve_repo_id(str(name_or_path)))
    tokenizer_dir = next((path for path in reversed(adapters) if (path / "tokenizer.json").is_file()), directory)
    return model, Qwen3Tokenizer.from_pretrained(tokenizer_dir, base=base)


def load_model_and_tokenizer(
    name: str, device: torch.device | str = "auto", dtype: torch.dtype | str | None = "auto", quantize: str = "none"
) -> tuple[Qwen3Model, Qwen3Tokenizer]:
    """`load_pretrained`, but a preset name ("0.6B") gives random weights and the offline-built tokenizer.

    The presets need no files or network (tests, timing, the command line offline); their
    text is noise. `dtype` may be a name ("bfloat16"); "auto" or None: what the device runs well.
    """
    if isinstance(dtype, str):
        dtype = None if dtype == "auto" else getattr(torch, dtype)
    if name.upper() not in PRESETS:
        return load_pretrained(name, device=device, dtype=dtype, quantize=quantize)
    check_method(quantize)
    device = get_device(device)
    with torch.device(device):
        model = Qwen3Model(Qwen3Config.from_name(name)).to(dtype or default_dtype(device)).eval()
    return quantize_model(model, quantize), Qwen3Tokenizer(build_offline_tokenizer())


def read_config(directory: str | Path) -> Qwen3Config:
    """The model configuration from a checkpoint directory's config.json."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a Hugging Face checkpoint directory")
    try:
        return Qwen3Config.from_hf(json.loads(path.read_bytes().decode("utf-8-sig")))
    except UnicodeDecodeError as error:
        raise CheckpointError(f"{path} is not UTF-8 text (byte {error.start}: {error.reason})") from None
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from None
    except ValueError as error:  # a field missing or of the wrong type, an unsupported variant
        raise CheckpointError(f"{path}: {error}") from None


def load_model(
    directory: str | Path, *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32, quantize: str = "none",
    adapters: Sequence[str | Path] = (),
) -> Qwen3Model:  # fmt: skip
    """Build the model of `directory`'s config.json and fill it from its safetensors files.

    On device "meta" the names and shapes of the files are checked (headers only) and the
    model is returned unallocated, in `dtype`: enough to count parameters and size memory.
    `quantize`: "none" or "int8", applied once the weights are in (see `reasoning.model.quantize`).
    `adapters`: LoRA adapter directories, merged in order into each weight they change (in
    float32, then cast to `dtype` once) as the weight is loaded.
    """
    check_method(quantize)
    directory = Path(directory)
    config = read_config(directory)
    with torch.device("meta"):
        model = Qwen3Model(config).to(dtype)
    expected = _hub_targets(model)
    located = _locate_tensors(weight_files(directory), expected, config)
    changes: dict[str, list[adapter_files.LowRank]] = {}
    for adapter in adapters:
        for name, change in _fitting_changes(adapter, expected, located).items():
            changes.setdefault(name, []).append(change)
    if torch.device(device).type == "meta":
        return quantize_model(model, quantize).eval()
    for file, targets in located.items():
        with _open(file, device) as tensors:
            for key, (name, index) in targets:
                tensor = tensors.get_tensor(key)
                for change in changes.get(key.removeprefix(HF_PREFIX), ()):
                    tensor = change.merged_into(tensor)
                tensor = tensor.to(dtype)
                if index is None:
                    _set_tensor(model, name, tensor)
                else:
                    _stacked_parameter(model, name, device, dtype)[index].copy_(tensor)
    return quantize_model(model, quantize).eval()


def _fitting_changes(
    adapter: str | Path, expected: dict[str, tuple[Target, torch.Size]], located: dict[Path, list[tuple[str, Target]]]
) -> dict[str, adapter_files.LowRank]:
    """The adapter's changes by tensor name (without "model."), each checked against the base's tensor."""
    changes = {name.removeprefix(HF_PREFIX): change for name, change in adapter_files.read_low_rank(adapter).items()}
    found = {key.removeprefix(HF_PREFIX) for keys in located.values() for key, _ in keys}
    for name, change in changes.items():
        if name not in found:
            raise CheckpointError(f"the adapter in {adapter} does not fit its base model: the base has no weight {name}")
        if change.shape != tuple(expected[name][1]):
            raise CheckpointError(
                f"the adapter in {adapter} does not fit its base model: {name} is {tuple(expected[name][1])} in the base, "
                f"{change.shape} in the adapter (was it trained on another model?)"
            )
    return changes


def weight_files(directory: Path) -> list[Path]:
    """The safetensors files of a checkpoint: the shards of the index, or the single file."""
    index = directory / INDEX_FILE
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError) as error:
            raise CheckpointError(f"{index} is malformed: {error!r}") from None
        files = [directory / name for name in dict.fromkeys(weight_map.values())]
    else:
        files = [directory / SINGLE_FILE]
    for file in files:
        if not file.is_file():
            raise FileNotFoundError(f"weight file {file} is missing from the checkpoint")
    return files


Target = tuple[str, tuple | None]  # (model parameter, index into it or None for the whole)


def _hub_targets(model: Qwen3Model) -> dict[str, tuple[Target, torch.Size]]:
    """Every tensor name of the hub layout (without "model.") -> (where it goes, its shape)."""
    targets: dict[str, tuple[Target, torch.Size]] = {}
    inner = model.config.moe_intermediate_size
    for name, param in model.state_dict().items():
        prefix, _, kind = name.rpartition(".")
        if not prefix.endswith("mlp.experts"):
            targets[name] = ((name, None), param.shape)
            continue
        for expert in range(param.shape[0]):
            if kind == "down_proj":
                targets[f"{prefix}.{expert}.down_proj.weight"] = ((name, (expert,)), param.shape[1:])
            else:  # gate_up_proj: gate rows first, then up rows
                for half, proj in enumerate(("gate", "up")):
                    index = (expert, slice(half * inner, (half + 1) * inner))
                    targets[f"{prefix}.{expert}.{proj}_proj.weight"] = ((name, index), torch.Size((inner, param.shape[2])))
    return targets


def _hub_state(model: Qwen3Model) -> dict[str, torch.Tensor]:
    """The model's tensors under their hub names, experts split per expert (views, no copies)."""
    state = model.state_dict()
    return {
        HF_PREFIX + key if not key.startswith("lm_head.") else key: state[name] if index is None else state[name][index]
        for key, ((name, index), _) in _hub_targets(model).items()
    }


def _stacked_parameter(model: nn.Module, name: str, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
    """The stacked expert tensor `name`, allocated on `device` the first time (filled expert by expert)."""
    module_name, _, attribute = name.rpartition(".")
    module = model.get_submodule(module_name)
    param = module._parameters[attribute]
    if param.device.type == "meta":
        param = nn.Parameter(torch.empty(param.shape, device=device, dtype=dtype), requires_grad=param.requires_grad)
        module._parameters[attribute] = param
    return param.data


def _locate_tensors(
    files: list[Path], expected: dict[str, tuple[Target, torch.Size]], config: Qwen3Config
) -> dict[Path, list[tuple[str, Target]]]:
    """Map each checkpoint key to its file and model target, checking names and shapes first."""
    located: dict[Path, list[tuple[str, Target]]] = {}
    unexpected, mismatched = [], []
    for file in files:
        with _open(file, "cpu") as tensors:
            for key in tensors.keys():
                name = key.removeprefix(HF_PREFIX)
                if name == "lm_head.weight" and config.tie_word_embeddings:
                    continue  # some tied checkpoints store the shared matrix twice
                if name not in expected:
                    unexpected.append(key)
                    continue
                target, expected_shape = expected[name]
                shape = tuple(tensors.get_slice(key).get_shape())
                if shape != tuple(expected_shape):
                    mismatched.append(f"{key}: checkpoint {shape}, model {tuple(expected_shape)}")
                located.setdefault(file, []).append((key, target))
    found = {key.removeprefix(HF_PREFIX) for keys in located.values() for key, _ in keys}
    missing = set(expected) - found
    problems = []
    if missing:
        problems.append(f"missing tensors: {', '.join(sorted(missing)[:8])}{' ...' if len(missing) > 8 else ''}")
    if unexpected:
        problems.append(f"unexpected tensors: {', '.join(sorted(unexpected)[:8])}{' ...' if len(unexpected) > 8 else ''}")
    if mismatched:
        problems.append("shape mismatch (does config.json match the weights?): " + "; ".join(mismatched[:8]))
    if problems:
        raise CheckpointError(f"checkpoint in {files[0].parent} does not fit the model: " + " | ".join(problems))
    return located


def _open(file: Path, device: torch.device | str):
    try:
        return safe_open(str(file), framework="pt", device=str(device))
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{file} is not a readable safetensors file ({error})") from None


def _set_tensor(model: nn.Module, name: str, tensor: torch.Tensor) -> None:
    """Replace the (meta) parameter `name` by a parameter holding `tensor`."""
    module_name, _, attribute = name.rpartition(".")
    module = model.get_submodule(module_name)
    module._parameters[attribute] = nn.Parameter(tensor, requires_grad=module._parameters[attribute].requires_grad)


def save_pretrained(
    model: Qwen3Model, tokenizer: Qwen3Tokenizer | None, out_dir: str | Path, *, max_shard_bytes: int = DEFAULT_SHARD_BYTES,
    finish: Callable[[str, torch.Tensor], torch.Tensor] | None = None,
) -> Path:  # fmt: skip
    """Write `model` (and `tokenizer`) in the Hugging Face layout to `out_dir`.

    `transformers.AutoModelForCausalLM.from_pretrained(out_dir)` loads the result unchanged,
    as do vLLM and `load_pretrained`. Weights larger than `max_shard_bytes` are split into
    shards with an index, as the hub does. `finish(name, tensor)` (name without the hub's
    "model." prefix), when given, makes each tensor what is written, as its shard is written
    (how `reasoning.lora.save_merged` folds adapters in without a copy of the model).
    """
    if is_quantized(model):
        raise ValueError("cannot save an int8-quantized model: the Hugging Face layout has no int8 weights; save it before quantizing")
    out = Path(out_dir)
    state = _hub_state(model)
    shards = _split_into_shards(state, max_shard_bytes)
    with written_whole(out) as directory:  # a full disk leaves out_dir as it was
        if len(shards) == 1:
            save_tensors(_to_cpu(shards[0], finish), directory / SINGLE_FILE, metadata={"format": "pt"})
        else:
            weight_map = {}
            for number, shard in enumerate(shards, start=1):
                file = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
                save_tensors(_to_cpu(shard, finish), directory / file, metadata={"format": "pt"})
                weight_map.update(dict.fromkeys(shard, file))
            total = sum(t.numel() * t.element_size() for t in state.values())
            index = {"metadata": {"total_size": total}, "weight_map": weight_map}
            (directory / INDEX_FILE).write_text(json.dumps(index, indent=2))
        dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
        (directory / CONFIG_FILE).write_text(json.dumps(model.config.to_hf(dtype), indent=2))
        if tokenizer is not None:
            tokenizer.save_pretrained(directory)
            stop = {"eos_token_id": list(tokenizer.eos_token_ids), "pad_token_id": tokenizer.pad_token_id}
            (directory / GENERATION_CONFIG_FILE).write_text(json.dumps(stop, indent=2))
    (out / (INDEX_FILE if len(shards) == 1 else SINGLE_FILE)).unlink(missing_ok=True)  # an earlier save's other layout
    return out


@contextmanager
def written_whole(out_dir: str | Path) -> Iterator[Path]:
    """A temporary sibling directory of `out_dir` to write into: when the block ends, its files
    move into out_dir (one rename where out_dir is new; files beside them are kept), and when it
    fails (a full disk), it is removed, so out_dir is never left half written or empty."""
    out = Path(out_dir)
    temporary = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)  # left by a write that was killed
    temporary.mkdir(parents=True)
    try:
        yield temporary
        if not out.exists():
            os.replace(temporary, out)
            return
        for path in temporary.iterdir():
            if (out / path.name).is_dir():
                shutil.rmtree(out / path.name)
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def save_tensors(tensors: dict[str, torch.Tensor], path: str | Path, *, metadata: dict[str, str] | None = None) -> None:
    """safetensors' `save_file`, with a failure to write (a full disk) raised as the OSError it is,
    naming the file, where safetensors raises its own SafetensorError (a traceback otherwise)."""
    try:
        save_file(tensors, str(path), metadata=metadata)
    except SafetensorError as error:
        code = re.search(r"os error (\d+)", str(error))
        if code is None:
            raise
        raise OSError(int(code.group(1)), os.strerror(int(code.group(1))), str(path)) from error


def _split_into_shards(state: dict[str, torch.Tensor], max_bytes: int) -> list[dict[str, torch.Tensor]]:
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensor
        size += nbytes
    return shards


def _to_cpu(tensors: dict[str, torch.Tensor], finish: Callable[[str, torch.Tensor], torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """The tensors on the CPU, each through `finish` first (by its name without "model."), one at a time."""
    finish = finish or (lambda name, tensor: tensor)
    return {name: finish(name.removeprefix(HF_PREFIX), tensor.detach()).detach().to("cpu").contiguous() for name, tensor in tensors.items()}
