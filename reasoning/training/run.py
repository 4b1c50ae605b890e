"""One path from a model to a trained (and, with LoRA, merged) model, for GRPO and SFT alike.

Load the model onto this rank's device in the run's dtype (`load_model`, or `load_toy` for the
offline task), then `run_training`: join the process group torchrun describes (if any), set the
model up (`prepare`), train it, and with `merge` write it with its LoRA adapters folded in.
What `reasoning train grpo`, `reasoning train sft` and the chapter scripts call.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reasoning.distributed import World, local_device, process_group
from reasoning.generation.api import Tokenizer
from reasoning.lora import MERGED_DIR, save_merged
from reasoning.training.learner import Learner, device_of
from reasoning.training.toy import ToySetting, toy_setting

Rows = list[dict[str, Any]]


def load_model(name: str, *, dtype: str, device: str = "auto") -> tuple[nn.Module, Tokenizer]:
    """A checkpoint by name (alias, hub id or directory) on this rank's device, in `dtype`."""
    from reasoning.checkpoint import load_pretrained
    from reasoning.device import get_device

    return load_pretrained(name, device=local_device(get_device(device)), dtype=getattr(torch, dtype))


def load_toy(device: str = "auto", **options: Any) -> ToySetting:
    """The toy setting (`toy_setting(**options)`) with its model on this rank's device; on a CPU,
    torch runs on one thread, which is fastest for a model this small."""
    from reasoning.device import get_device

    here = local_device(get_device(device))
    if here.type == "cpu":
        torch.set_num_threads(1)
    setting = toy_setting(**options)
    setting.model.to(here)
    return setting


def run_training(
    model: nn.Module, tokenizer: Tokenizer, prepare: Callable[[nn.Module, Tokenizer], Learner],
    train: Callable[[Learner], Rows], out_dir: str | Path, *, merge: bool = False,
) -> tuple[World, Rows]:  # fmt: skip
    """In the process group torchrun describes (one process without it): `prepare` the model,
    `train` it, and with `merge` write it with its adapters folded in to out_dir/merged (rank 0).
    This process's world and the training rows."""
    with process_group(device_of(model)) as world:
        learner = prepare(model, tokenizer)
        rows = train(learner)
        if merge and world.is_main:  # the plain copy holds the final weights (synced for the last checkpoint)
            save_merged(learner.plain, learner.tokenizer, Path(out_dir) / MERGED_DIR)
        return world, rows
