"""Training checkpoints: the model in Hugging Face layout, plus optimizer, RNG and step; fresh starts and resumes.

A checkpoint is a directory `checkpoints/step-000050/` holding what `save_pretrained` writes
(config.json, model.safetensors, tokenizer), so `load_pretrained` and `transformers` load it
as is, and beside it optimizer.safetensors (AdamW's moments), trainer_state.json (step,
config, learning-rate groups, Python/NumPy RNG states) and rng.safetensors (torch's RNG
state). No pickle: tensors go to safetensors, everything else to JSON. trainer_state.json
is written last, so a directory without it (a run killed mid-save) is never resumed from.

A model with LoRA adapters is checkpointed as the adapters alone, in PEFT's format
(adapter_config.json, adapter_model.safetensors: `reasoning.lora.save_lora`), with the tokenizer
beside them and no base weights, which training never changes; transformers + PEFT and vLLM load
the directory as an adapter onto the base checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from reasoning import distributed
from reasoning.checkpoint import save_pretrained, save_tensors, weight_files
from reasoning.distributed import World
from reasoning.lora import WEIGHTS_FILE as ADAPTER_FILE
from reasoning.lora import has_lora, read_adapter, save_lora
from reasoning.training import fsdp
from reasoning.training.learner import Learner

STATE_FILE = "trainer_state.json"
EVAL_DIR = "eval"  # a run's periodic evaluations through the evaluation pipeline, one directory per step
OPTIMIZER_FILE = "optimizer.safetensors"
RNG_FILE = "rng.safetensors"


class RunExistsError(ValueError):
    """A fresh run asked for in a directory that already holds one."""


def refuse_existing_run(out_dir: Path) -> None:
    """Raise RunExistsError if out_dir holds another run's metrics, checkpoints or evaluations."""
    found = [path for path in (out_dir / "metrics.jsonl", out_dir / "samples.jsonl") if path.is_file() and path.stat().st_size]
    found += sorted((out_dir / "checkpoints").glob("step-*")) + sorted((out_dir / EVAL_DIR).glob("step-*"))
    if found:
        raise RunExistsError(
            f"{out_dir} already holds a training run ({found[0].relative_to(out_dir)}): "
            "pass --resume to continue it, --overwrite to replace it, or choose another --out"
        )


def start_fresh(out_dir: Path, world: World, *, overwrite: bool = False) -> None:
    """Refuse to start a new run over another, unless `overwrite`, which deletes the old
    checkpoints and evaluations first (so a later resume can never continue them, nor a periodic
    evaluation reuse their records, under the new metrics)."""
    if not overwrite:
        refuse_existing_run(out_dir)
    elif world.is_main:
        for name in ("checkpoints", EVAL_DIR):
            shutil.rmtree(out_dir / name, ignore_errors=True)
    distributed.barrier(world)


def checkpoint_dir(out_dir: Path, step: int) -> Path:
    return out_dir / "checkpoints" / f"step-{step:06d}"


def complete_checkpoints(out_dir: Path) -> list[Path]:
    """The complete step checkpoints under out_dir, oldest step first."""
    done = [path for path in (out_dir / "checkpoints").glob("step-*") if (path / STATE_FILE).is_file()]
    return sorted(done, key=lambda path: int(path.name.removeprefix("step-")))


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The complete checkpoint with the highest step under out_dir, or None."""
    done = complete_checkpoints(out_dir)
    return done[-1] if done else None


def save_checkpoint(learner: Learner, out_dir: Path, step: int, settings: dict[str, Any], *, keep_last: int = 0) -> Path:
    """Write the checkpoint of `step` with the run's `settings` (rank 0 writes; every rank takes
    part in gathering); of a model with LoRA, the adapters only, made for `learner.base_model`.

    It is written to a hidden temporary directory, renamed into place when complete, so a full
    disk or a kill leaves the earlier checkpoints as they were and no half-written one (the
    temporary one is removed on failure). Then, with `keep_last`, only the newest keep_last
    checkpoints are kept (0: all)."""
    world = learner.world
    fsdp.sync_plain_copy(learner.model, learner.plain, world)
    optimizer_state = fsdp.full_optimizer_state(learner.model, learner.optimizer)
    target = checkpoint_dir(out_dir, step)
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        if world.is_main:
            shutil.rmtree(temporary, ignore_errors=True)  # left by a run killed mid-save
            _save_weights(learner.plain, learner.tokenizer, temporary, learner.base_model)
            tensors, groups = _flatten_optimizer(optimizer_state)
            save_tensors(tensors, temporary / OPTIMIZER_FILE)
        distributed.barrier(world)
        save_tensors(_torch_rng(), temporary / rng_file(world.rank))  # each rank its own streams (dropout)
        distributed.barrier(world)
        if world.is_main:
            state = {"step": step, "config": settings, "param_groups": groups, "python_rng": _python_rng(), "numpy_rng": _numpy_rng()}
            (temporary / STATE_FILE).write_text(json.dumps(state, indent=1))
            if target.exists():
                shutil.rmtree(target)
            temporary.rename(target)
            remove_old_checkpoints(out_dir, keep_last)
    except BaseException:
        if world.is_main:
            shutil.rmtree(temporary, ignore_errors=True)
        raise
    distributed.barrier(world)
    return target


def remove_old_checkpoints(out_dir: Path, keep_last: int) -> list[Path]:
    """Delete all but the newest `keep_last` complete checkpoints under out_dir (0: keep all);
    the ones deleted. Each is renamed out of `step-*` first, so a kill mid-delete never leaves a
    partial checkpoint that reads as complete."""
    old = complete_checkpoints(out_dir)[:-keep_last] if keep_last else []
    for path in old:
        doomed = path.rename(path.with_name(f".{path.name}.old"))
        shutil.rmtree(doomed)
    return old


def load_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore weights (or LoRA adapters), optimizer, and RNG states from `path` into the live objects; its state dict."""
    state = read_trainer_state(path)
    fsdp.load_full_model_state(model, _saved_weights(path, model), strict=not has_lora(model))
    fsdp.load_full_optimizer_state(model, optimizer, _unflatten_optimizer(load_file(str(path / OPTIMIZER_FILE)), state["param_groups"]))
    own = path / rng_file(distributed.current_world().rank)
    _set_torch_rng(load_file(str(own if own.is_file() else path / RNG_FILE)))
    random.setstate(_as_tuple(state["python_rng"]))
    name, keys, position, has_gauss, gauss = state["numpy_rng"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, gauss))
    return state


def start_run(
    learner: Learner, out_dir: Path, settings: dict[str, Any], resumable: tuple[str, ...], *, resume: bool = False,
    overwrite: bool = False,
) -> int:  # fmt: skip
    """The step a run starts after: 0 for a fresh run (see `start_fresh`), or with `resume` the
    latest checkpoint's under out_dir, loaded into the learner (its plain copy synced). Settings
    other than `resumable` must equal the saved run's (checked before any weight is read)."""
    if resume and overwrite:
        raise ValueError("--resume continues the run in the output directory and --overwrite replaces it: pass one")
    if not resume:
        start_fresh(out_dir, learner.world, overwrite=overwrite)
        return 0
    path = latest_checkpoint(out_dir)
    if path is None:
        raise FileNotFoundError(f"cannot resume: no complete checkpoint under {out_dir / 'checkpoints'}")
    saved = {**_field_defaults(learner.config), **read_trainer_state(path)["config"]}  # a field added since: its default, as the run ran
    as_json = lambda value: list(value) if isinstance(value, tuple) else value
    changed = sorted(k for k in settings if k not in resumable and as_json(settings[k]) != as_json(saved.get(k)))
    if changed:
        shown = lambda k: json.dumps(as_json(saved[k])) if k in saved else "(not set)"  # noqa: E731
        differences = "; ".join(f"{k} saved {shown(k)}, now {json.dumps(as_json(settings[k]))}" for k in changed)
        raise ValueError(f"cannot resume from {path}: settings differ from the saved run: {differences}")
    step = int(load_checkpoint(path, learner.model, learner.optimizer)["step"])
    fsdp.sync_plain_copy(learner.model, learner.plain, learner.world)
    return step


def _field_defaults(config: Any) -> dict[str, Any]:
    """The default of each field of a dataclass config (none for another kind of config)."""
    if not dataclasses.is_dataclass(config):
        return {}
    return {f.name: f.default for f in dataclasses.fields(config) if f.default is not dataclasses.MISSING}


def read_trainer_state(path: Path) -> dict[str, Any]:
    """A checkpoint's trainer_state.json: step, config, optimizer groups and RNG states."""
    return json.loads((path / STATE_FILE).read_text())


def _save_weights(model: nn.Module, tokenizer: Any, target: Path, base_model: str | None) -> None:
    if not has_lora(model):
        save_pretrained(model, tokenizer, target)
        return
    save_lora(model, target, base_model=base_model)
    if tokenizer is not None:
        tokenizer.save_pretrained(target)


def _saved_weights(path: Path, model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict to load into `model`: the whole saved one, or (LoRA) the saved adapters alone."""
    adapter = (path / ADAPTER_FILE).is_file()
    if adapter != has_lora(model):
        held, model_has = ("a LoRA adapter", "no adapters") if adapter else ("full weights", "LoRA adapters")
        raise ValueError(f"{path} holds {held} but the model has {model_has}: resume with the LoRA settings it was saved with")
    if not adapter:
        return {name.removeprefix("model."): tensor for file in weight_files(path) for name, tensor in load_file(str(file)).items()}
    saved = read_adapter(path)
    wrong = sorted(saved.keys() ^ {name for name, _ in model.named_parameters() if "lora_" in name})
    if wrong:
        raise ValueError(f"the adapter in {path} does not fit the model's adapters ({wrong[0]}): other LoRA settings?")
    return saved  # the frozen weights are the model's already


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """AdamW's {param: {key: tensor}} as flat "param::key" tensors, and its groups as JSON."""
    tensors = {f"{name}::{key}": torch.as_tensor(value).detach().cpu().contiguous() for name, entries in state["state"].items() for key, value in entries.items()}
    return tensors, json.loads(json.dumps(state["param_groups"]))


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], groups: list[dict[str, Any]]) -> dict[str, Any]:
    state: dict[str, dict[str, torch.Tensor]] = {}
    for flat, tensor in tensors.items():
        name, key = flat.rsplit("::", 1)
        state.setdefault(name, {})[key] = tensor
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    return {"state": state, "param_groups": groups}


def rng_file(rank: int) -> Path:
    """Rank `rank`'s torch RNG states in a checkpoint; a rank it lacks (resumed on more ranks) takes rank 0's."""
    return Path(RNG_FILE if rank == 0 else RNG_FILE.replace(".safetensors", f".rank{rank}.safetensors"))


def _torch_rng() -> dict[str, torch.Tensor]:
    """The CPU generator's state, and the current CUDA device's where there is one (LoRA dropout draws there)."""
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state()
    return states


def _set_torch_rng(states: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state(states["cuda"])


def _python_rng() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _as_tuple(saved: list[Any]) -> tuple:
    return (saved[0], tuple(saved[1]), saved[2])


def _numpy_rng() -> list[Any]:
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return [name, keys.tolist(), int(pos), int(has_gauss), float(gauss)]
