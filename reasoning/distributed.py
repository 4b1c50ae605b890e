"""Process groups and reductions by name: what training and evaluation under torchrun share.

Under `torchrun` (WORLD_SIZE > 1) each process joins the group torchrun describes, takes its
share of the items (prompts, examples, problems) and adds its totals to the others' by name.
On one process every function here is a no-op or a plain call, so the code that uses them
reads the same on one process or many.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's rank among world_size processes."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


@contextlib.contextmanager
def process_group(device: torch.device) -> Iterator[World]:
    """Join the process group torchrun describes (gloo on CPU, NCCL on CUDA) for the block, and
    leave it after; one process, nothing to join, otherwise. A group already joined is kept."""
    if int(os.environ.get("WORLD_SIZE", "1")) == 1 or dist.is_initialized():
        yield current_world()
        return
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield current_world()
    finally:
        dist.destroy_process_group()


def current_world() -> World:
    """The world of an already-initialised process group (one process when there is none)."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def local_device(device: torch.device) -> torch.device:
    """This rank's device: cuda:LOCAL_RANK under torchrun on GPUs, else `device` itself."""
    if device.type == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


def shard_items(items: Sequence[Any], world: World) -> list[Any]:
    """This rank's share of a list: items rank, rank + world_size, ..."""
    return list(items[world.rank :: world.world_size])


def all_reduce_sums(sums: dict[str, float], world: World) -> dict[str, float]:
    """Each named value summed over all ranks (float64), for metrics and loss normalisers.

    The values travel as one tensor in sorted-name order and come back by name, so no caller
    unpacks by position. Every rank must pass the same names: a checksum of them travels too.
    """
    names = sorted(sums)
    if not world.distributed:
        return {name: float(sums[name]) for name in names}
    checksum = float(zlib.crc32("\0".join(names).encode()))
    tensor = torch.tensor([float(sums[name]) for name in names] + [checksum], dtype=torch.float64)
    dist.all_reduce(tensor)
    if tensor[-1].item() != checksum * world.world_size:
        raise RuntimeError(f"rank {world.rank}: ranks reduced different metric names (this rank: {', '.join(names)})")
    return dict(zip(names, tensor[:-1].tolist()))


def all_reduce_max(value: int, world: World) -> int:
    """The largest of every rank's `value` (e.g. how many passes each rank must run)."""
    if not world.distributed:
        return value
    tensor = torch.tensor([value], dtype=torch.long)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return int(tensor)


def all_reduce_maxes(values: dict[str, float], world: World) -> dict[str, float]:
    """Each named value's largest over all ranks (float64; a minimum travels as a negated maximum)."""
    names = sorted(values)
    if not world.distributed:
        return {name: float(values[name]) for name in names}
    tensor = torch.tensor([float(values[name]) for name in names], dtype=torch.float64)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return dict(zip(names, tensor.tolist(), strict=True))


def barrier(world: World) -> None:
    """Wait for every rank (nothing to wait for on one process)."""
    if world.distributed:
        dist.barrier()
