"""The engine's live sequences: host bookkeeping and the per-row device tensors a decode step reads.

Live sequences fill rows 0 .. live - 1; a finished row is filled by moving the last one into
it. Rows past the live ones stay empty and point at the sink block, so a compiled step may
decode them as padding. Every change reaches the device in one host-to-device copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reasoning.generation.decode import NO_BAN
from reasoning.generation.request import Request
from reasoning.model.paged import SINK_BLOCK


@dataclass(eq=False)
class LiveSequence:
    """A live request: its blocks and how many of its positions the pool holds."""

    request: Request
    blocks: list[int]
    cached: int
    admitted: int = 0  # admission order, set when placed: the latest admitted is preempted first
    banned: int = -1  # the token its row may not sample next, as last written to the device



class Rows:
    """Per-row device tensors of the live sequences, in row order."""

    def __init__(self, rows: int, width: int, device: torch.device) -> None:
        self.sequences: list[LiveSequence] = []
        self.admissions = 0
        long = dict(dtype=torch.long, device=device)
        self.tokens = torch.zeros(rows, **long)  # each row's next input token
        self.keys = torch.zeros(rows, **long)  # random stream per row
        self.counters = torch.zeros(rows, **long)  # draws made per row
        self.lengths = torch.zeros(rows, **long)  # positions cached per row
        self.banned = torch.full((rows,), NO_BAN, **long)  # a token each row may not sample next (thinking floor)
        self.tables = torch.full((rows, width), SINK_BLOCK, **long)  # block ids; the sink past a row's blocks

    @property
    def live(self) -> int:
        return len(self.sequences)

    @property
    def has_bans(self) -> bool:
        """Whether any live row has a token it may not choose (the eager step skips the mask otherwise)."""
        return any(sequence.banned != NO_BAN for sequence in self.sequences)

    def place(self, sequences: list[LiveSequence], next_tokens: list[int], counters: list[int]) -> None:
        """Put new sequences in the rows after the live ones (one host-to-device copy)."""
        start, width = self.live, self.tables.shape[1]
        columns = (self.tokens, self.keys, self.counters, self.lengths, self.banned)
        values = torch.full((len(sequences), len(columns) + width), SINK_BLOCK, dtype=torch.long)
        for row, (sequence, token, counter) in enumerate(zip(sequences, next_tokens, counters)):
            sequence.admitted, self.admissions = self.admissions, self.admissions + 1
            sequence.banned = banned_token(sequence.request)
            values[row, : len(columns)] = torch.tensor([token, sequence.request.key, counter, sequence.cached, sequence.banned])
            values[row, len(columns) : len(columns) + len(sequence.blocks)] = torch.tensor(sequence.blocks)
        values = to_device(values, self.tokens.device)
        stop = start + len(sequences)
        for column, tensor in enumerate(columns):
            tensor[start:stop] = values[:, column]
        self.tables[start:stop] = values[:, len(columns) :]
        self.sequences.extend(sequences)

    def set_values(self, tensor: torch.Tensor, rows: list[int], values: list[int]) -> None:
        """Write `values` into `tensor` at `rows` (one host-to-device copy)."""
        if rows:
            rows_and_values = to_device(torch.tensor([rows, values], dtype=torch.long), tensor.device)
            tensor[rows_and_values[0]] = rows_and_values[1]

    def set_blocks(self, entries: list[tuple[int, int, int]]) -> None:
        """Write (row, column, block) entries into the block tables (one host-to-device copy)."""
        if entries:
            rows, columns, blocks = to_device(torch.tensor(entries, dtype=torch.long), self.tables.device).unbind(1)
            self.tables[rows, columns] = blocks

    def remove(self, rows: list[int]) -> None:
        """Drop rows (ascending), moving rows from the end into their places."""
        kept = self.live - len(rows)
        gone = set(rows)
        holes = [row for row in rows if row < kept]
        movers = [row for row in range(kept, self.live) if row not in gone]
        for hole, mover in zip(holes, movers):
            self.sequences[hole] = self.sequences[mover]
        if holes:
            to, source = (to_device(torch.tensor(x), self.tokens.device) for x in (holes, movers))
            for tensor in (self.tokens, self.keys, self.counters, self.lengths, self.banned, self.tables):
                tensor[to] = tensor[source]
        # Rows past the live ones may be decoded as padding: keep them empty and on the sink.
        self.lengths[kept : self.live] = 0
        self.banned[kept : self.live] = NO_BAN
        self.tables[kept : self.live] = SINK_BLOCK
        del self.sequences[kept:]


def banned_token(request: Request) -> int:
    """The token the request may not sample next (NO_BAN: none)."""
    banned = None if request.thinking is None else request.thinking.banned
    return NO_BAN if banned is None else banned


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A host tensor on `device`; on CUDA through pinned memory, so the copy does not wait for the GPU."""
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)
