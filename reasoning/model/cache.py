"""A preallocated key/value cache with a length per row.

Keys and values of all layers live in two tensors of shape
[layers, batch, kv_heads, max_len, head_dim], allocated once and written in place (never
grown with torch.cat). Each row has its own length, so rows of one batch may hold prompts of
different lengths and may be replaced independently: this is what lets the generation engine
retire finished rows and admit waiting requests into their slots (continuous batching), and
copy one prefilled prompt into the rows of its n samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reasoning.model.config import Qwen3Config


@dataclass
class KVCache:
    """Per-layer key/value storage plus the number of cached tokens in each row."""

    keys: torch.Tensor  # [layers, batch, kv_heads, max_len, head_dim]
    values: torch.Tensor  # same shape as keys
    lengths: torch.Tensor  # [batch] int64: tokens cached per row

    @classmethod
    def allocate(
        cls,
        config: Qwen3Config,
        batch_size: int,
        max_len: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> KVCache:
        """Preallocate room for `batch_size` rows of up to `max_len` tokens each."""
        shape = (config.num_layers, batch_size, config.num_kv_heads, max_len, config.head_dim)
        return cls(
            keys=torch.zeros(shape, device=device, dtype=dtype),
            values=torch.zeros(shape, device=device, dtype=dtype),
            lengths=torch.zeros(batch_size, device=device, dtype=torch.long),
        )

    @property
    def batch_size(self) -> int:
        return self.keys.shape[1]

    @property
    def max_len(self) -> int:
        return self.keys.shape[3]

    def reset(self) -> None:
        """Forget every cached token (the memory stays allocated)."""
        self.lengths.zero_()

    def rows(self, start: int, stop: int) -> KVCache:
        """A view of rows [start, stop): forward passes on it write into this cache."""
        return KVCache(self.keys[:, start:stop], self.values[:, start:stop], self.lengths[start:stop])

    def copy_rows(self, source_rows: torch.Tensor | list[int], start: int = 0) -> None:
        """Copy rows `source_rows` (in that order) into rows start, start+1, ...

        The source is read in full before anything is written, so the ranges may overlap:
        `copy_rows(keep)` compacts the rows still in use to the front, and
        `copy_rows(torch.tensor([r, r, r]), r)` copies row r's prompt into three sample rows.
        """
        index = torch.as_tensor(source_rows, dtype=torch.long, device=self.keys.device)
        stop = start + index.numel()
        if stop > self.batch_size:
            raise ValueError(f"copy_rows needs rows up to {stop} but the cache has {self.batch_size}")
        # Only the filled prefix of each row is worth copying.
        used = int(self.lengths[index].max()) if index.numel() else 0
        self.keys[:, start:stop, :, :used] = self.keys[:, index, :, :used]
        self.values[:, start:stop, :, :used] = self.values[:, index, :, :used]
        self.lengths[start:stop] = self.lengths[index]

    def select(self, source_rows: torch.Tensor | list[int]) -> KVCache:
        """Keep only `source_rows` (in that order, repeats allowed) and return a view of them."""
        count = len(source_rows)
        self.copy_rows(source_rows, 0)
        return self.rows(0, count)

    def write(
        self, layer: int, keys: torch.Tensor, values: torch.Tensor, positions: torch.Tensor, kv_len: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store new [batch, kv_heads, T, head_dim] keys/values at their positions in each row.

        Returns this layer's keys and values for the first `kv_len` positions, the part that
        attention has to read.
        """
        batch, heads = keys.shape[:2]
        row = torch.arange(batch, device=keys.device)[:, None, None]
        head = torch.arange(heads, device=keys.device)[None, :, None]
        # Index the whole tensor rather than a per-layer view: torch.compile then writes in place.
        # torch.full fills on the device; torch.tensor(layer, device=...) would copy from host
        # memory, which waits for the GPU to finish its queued work at every layer.
        index = (torch.full((), layer, device=keys.device), row, head, positions[:, None, :])
        self.keys.index_put_(index, keys)
        self.values.index_put_(index, values)
        return self.keys[layer, :, :, :kv_len], self.values[layer, :, :, :kv_len]


class PrefixKV:
    """Keys and values of a prefix (a prompt) kept as autograd tensors, for training.

    GRPO trains on G completions of one prompt. Running the prompt once and the completions
    against its keys and values, indexed out to their G rows, pays the prompt's share of the
    forward and backward pass once per group instead of G times; autograd sums the G
    gradients through the indexing. `KVCache` cannot do this: it writes in place, and autograd
    refuses a tensor changed after an attention saved it.

    `write` never changes the prefix it reads: it returns prefix + new keys and records the
    new ones, so a block recomputed by gradient checkpointing does exactly what it did before.
    With a PrefixKV, the forward's attention_mask covers the prefix's keys, then the new tokens.
    A plain class, not a dataclass: FSDP rebuilds dataclass arguments of a forward (to move
    their tensors), and the forward's writes would then land in a copy.
    """

    def __init__(self, keys: list[torch.Tensor | None], values: list[torch.Tensor | None]) -> None:
        self.keys = keys  # per layer [batch, kv_heads, P, head_dim]; None: empty
        self.values = values
        self.written: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # layer -> the last forward's new keys, values

    @classmethod
    def empty(cls, num_layers: int) -> PrefixKV:
        return cls([None] * num_layers, [None] * num_layers)

    @property
    def length(self) -> int:
        """Keys per row in the prefix (padding included)."""
        return 0 if self.keys[0] is None else self.keys[0].shape[2]

    def write(
        self, layer: int, keys: torch.Tensor, values: torch.Tensor, positions: torch.Tensor, kv_len: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The prefix's keys and values followed by the new ones (positions are implied by order)."""
        self.written[layer] = (keys, values)
        if self.keys[layer] is None:
            return keys, values
        return torch.cat((self.keys[layer], keys), dim=2), torch.cat((self.values[layer], values), dim=2)

    def extended(self, rows: torch.Tensor) -> PrefixKV:
        """The prefix plus what the last forward wrote, as rows `rows` (repeats allowed): the next prefix."""
        keys, values = [], []
        for layer, (old_keys, old_values) in enumerate(zip(self.keys, self.values)):
            new_keys, new_values = self.written[layer]
            if old_keys is not None:
                new_keys, new_values = torch.cat((old_keys, new_keys), dim=2), torch.cat((old_values, new_values), dim=2)
            keys.append(new_keys.index_select(0, rows))
            values.append(new_values.index_select(0, rows))
        return PrefixKV(keys, values)
