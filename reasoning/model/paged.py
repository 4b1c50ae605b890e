"""A paged key/value cache: fixed-size blocks in one pool, addressed through block tables.

Keys and values of every layer live in a pool of blocks of `block_size` token positions
([layers, blocks, block_size, kv_heads, head_dim]). A sequence owns a list of blocks, its
block table, and grows one block at a time, so memory follows the tokens actually held
rather than the longest length a request might reach (Kwon et al. 2023, vLLM). Blocks are
shared by reference: the n samples of one prompt read the prompt's full blocks in place.

Block 0 is a sink, never handed out: table entries past a sequence's blocks point there, so
padding tokens and idle rows write somewhere harmless and every tensor keeps a fixed shape.
This module holds storage and the forward pass's view only; which block goes to which
sequence is decided by the generation engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reasoning.model.config import Qwen3Config

SINK_BLOCK = 0


@dataclass
class BlockPool:
    """Key and value storage of every layer, in blocks of `block_size` positions."""

    keys: torch.Tensor  # [layers, blocks, block_size, kv_heads, head_dim]
    values: torch.Tensor

    @classmethod
    def allocate(
        cls, config: Qwen3Config, num_blocks: int, block_size: int, *, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
    ) -> BlockPool:
        """Room for `num_blocks` blocks (block 0, the sink, included)."""
        if num_blocks < 2 or block_size < 1:
            raise ValueError(f"a block pool needs at least 2 blocks of at least 1 position, got {num_blocks} of {block_size}")
        shape = (config.num_layers, num_blocks, block_size, config.num_kv_heads, config.head_dim)
        return cls(torch.zeros(shape, device=device, dtype=dtype), torch.zeros(shape, device=device, dtype=dtype))

    @property
    def num_blocks(self) -> int:
        return self.keys.shape[1]

    @property
    def block_size(self) -> int:
        return self.keys.shape[2]

    def copy_blocks(self, source: torch.Tensor, target: torch.Tensor) -> None:
        """Copy blocks `source` into blocks `target` (int64 tensors of equal length), all layers."""
        self.keys[:, target] = self.keys[:, source]
        self.values[:, target] = self.values[:, source]


def bytes_per_token(config: Qwen3Config, dtype: torch.dtype) -> int:
    """Memory one cached token takes: keys and values of every layer."""
    return 2 * config.num_layers * config.num_kv_heads * config.head_dim * torch.empty((), dtype=dtype).element_size()


class PagedKV:
    """One forward pass's view of a BlockPool: each row's block table and cached length.

    tables: [batch, width] int64 block ids (SINK_BLOCK past a row's blocks); lengths: [batch]
    int64 tokens already cached per row, on the device. The T new tokens of row r go to
    positions lengths[r] .. lengths[r] + T - 1. `fresh` says, from the host's bookkeeping,
    that every row starts empty: attention then reads the new keys only (plain causal), and
    nothing has to be gathered. Otherwise attention reads the `width` blocks of each row, and
    the mask hides positions after each query. Nothing here reads a tensor on the host, so a
    decode step through this view compiles into one graph and needs no synchronisation.
    """

    def __init__(self, pool: BlockPool, tables: torch.Tensor, lengths: torch.Tensor, *, fresh: bool = False) -> None:
        self.pool, self.tables, self.lengths, self.fresh = pool, tables, lengths, fresh
        self._slots: tuple[torch.Tensor, torch.Tensor] | None = None  # (positions, their flat pool slots)

    @property
    def key_positions(self) -> int:
        """Positions attention reads per row when not fresh: the table's width in tokens."""
        return self.tables.shape[1] * self.pool.block_size

    def write(
        self, layer: int, keys: torch.Tensor, values: torch.Tensor, positions: torch.Tensor, kv_len: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store new [batch, kv_heads, T, head_dim] keys/values at `positions` [batch, T]; return
        what attention reads: the new ones when fresh, else each row's blocks in order."""
        if self._slots is None or self._slots[0] is not positions:  # the same for every layer: computed once
            size = self.pool.block_size
            blocks = self.tables.gather(1, torch.div(positions, size, rounding_mode="floor"))
            self._slots = (positions, (blocks * size + positions % size).flatten())
        slots = self._slots[1]
        flat_keys = self.pool.keys[layer].view(-1, *self.pool.keys.shape[3:])
        flat_values = self.pool.values[layer].view(-1, *self.pool.values.shape[3:])
        flat_keys.index_copy_(0, slots, keys.transpose(1, 2).flatten(0, 1))
        flat_values.index_copy_(0, slots, values.transpose(1, 2).flatten(0, 1))
        if self.fresh:
            return keys, values
        return _gather(self.pool.keys[layer], self.tables), _gather(self.pool.values[layer], self.tables)


def _gather(storage: torch.Tensor, tables: torch.Tensor) -> torch.Tensor:
    """[blocks, block_size, kv_heads, head_dim] read through [batch, width] tables ->
    [batch, kv_heads, width * block_size, head_dim], positions in order."""
    batch, width = tables.shape
    gathered = storage.index_select(0, tables.flatten())  # a third of advanced indexing's time per call on a CPU
    gathered = gathered.view(batch, width * storage.shape[1], *storage.shape[2:])
    return gathered.transpose(1, 2)
