"""The engine's device rows: which live sequence each row holds and the per-row tensors a decode step reads.

Live sequences fill rows 0 .. live - 1; a finished row is filled by moving the last one into
it. Rows past the live ones stay empty and point at the sink block, so a compiled step may
decode them as padding. Every change reaches the device in one host-to-device copy.
"""

from __future__ import annotations

import torch

from reasoning.generation.decode import NO_BAN
from reasoning.generation.options import SamplingParams
from reasoning.generation.request import Request
from reasoning.generation.sampling import Penalties, RowSampling, row_sampling
from reasoning.generation.scheduler import LiveSequence
from reasoning.model.paged import SINK_BLOCK


class Rows:
    """Per-row device tensors of the live sequences, in row order."""

    def __init__(self, rows: int, width: int, device: torch.device, vocab_size: int = 0, params: SamplingParams | None = None) -> None:
        self.sequences: list[LiveSequence] = []
        self.bans: list[int] = []  # each row's banned token as last written to the device
        long = dict(dtype=torch.long, device=device)
        self.tokens = torch.zeros(rows, **long)  # each row's next input token
        self.keys = torch.zeros(rows, **long)  # random stream per row
        self.counters = torch.zeros(rows, **long)  # draws made per row
        self.lengths = torch.zeros(rows, **long)  # positions cached per row
        self.banned = torch.full((rows,), NO_BAN, **long)  # a token each row may not sample next (thinking floor)
        self.tables = torch.full((rows, width), SINK_BLOCK, **long)  # block ids; the sink past a row's blocks
        # Presence and frequency penalties, kept only by runs that have one: how many times each
        # row's sequence generated each token, and the run's two penalties (the same in every row).
        # A run of mixed requests (params None) keeps them always, each row its request's own.
        self.mixed = params is None
        self.vocab_size = vocab_size
        self.counts = self.presence = self.frequency = None
        if self.mixed or params.penalized:
            self.counts = torch.zeros(rows, vocab_size, dtype=torch.int32, device=device)
            self.presence = torch.zeros(rows, dtype=torch.float32, device=device)
            self.frequency = torch.zeros(rows, dtype=torch.float32, device=device)
            if not self.mixed:
                self.presence.fill_(params.presence_penalty)
                self.frequency.fill_(params.frequency_penalty)

    @property
    def live(self) -> int:
        return len(self.sequences)

    @property
    def has_bans(self) -> bool:
        """Whether any live row has a token it may not choose (the eager step skips the mask otherwise)."""
        return any(ban != NO_BAN for ban in self.bans)

    def penalties(self, start: int, stop: int) -> Penalties | None:
        """Rows start .. stop - 1's penalties and token counts; None when the run has no penalty
        (in a run of mixed requests: when none of these rows has one)."""
        if self.counts is None or (self.mixed and not any(s.request.sampling.penalized for s in self.sequences[start:stop])):
            return None
        return Penalties(self.counts[start:stop], self.presence[start:stop], self.frequency[start:stop])

    def sampling(self, start: int, stop: int) -> RowSampling:
        """Rows start .. stop - 1's own sampling parameters (a run of mixed requests)."""
        params = [sequence.request.sampling for sequence in self.sequences[start:stop]]
        padding = [SamplingParams()] * (stop - start - len(params))  # rows past the live ones: greedy
        return row_sampling(params + padding, self.tokens.device, self.vocab_size)

    def count_tokens(self, start: int, stop: int) -> None:
        """Count each of rows start .. stop - 1's newest token (its next input) as generated."""
        if self.counts is not None:
            self.counts[torch.arange(start, stop, device=self.counts.device), self.tokens[start:stop]] += 1

    def place(self, sequences: list[LiveSequence]) -> None:
        """Put new sequences in the rows after the live ones (one host-to-device copy). A request
        with tokens continues from its last one; a new one's first input is set once sampled."""
        start, width = self.live, self.tables.shape[1]
        columns = (self.tokens, self.keys, self.counters, self.lengths, self.banned)
        values = torch.full((len(sequences), len(columns) + width), SINK_BLOCK, dtype=torch.long)
        for row, sequence in enumerate(sequences):
            request = sequence.request
            self.bans.append(banned_token(request))
            next_token = request.tokens[-1] if request.tokens else 0
            values[row, : len(columns)] = torch.tensor([next_token, request.key, len(request.tokens), sequence.cached, self.bans[-1]])
            values[row, len(columns) : len(columns) + len(sequence.blocks)] = torch.tensor(sequence.blocks)
        values = to_device(values, self.tokens.device)
        stop = start + len(sequences)
        for column, tensor in enumerate(columns):
            tensor[start:stop] = values[:, column]
        self.tables[start:stop] = values[:, len(columns) :]
        self.sequences.extend(sequences)
        if self.mixed:
            penalties = torch.tensor([[s.request.sampling.presence_penalty, s.request.sampling.frequency_penalty] for s in sequences])
            self.presence[start:stop], self.frequency[start:stop] = to_device(penalties, self.tokens.device).unbind(1)
        if self.counts is not None:
            self._recount(start, sequences)

    def _recount(self, start: int, sequences: list[LiveSequence]) -> None:
        """Counts of new rows from their requests' tokens: none for a new request, all it generated
        for a preempted one recomputed or a budget-sweep branch (one host-to-device copy)."""
        self.counts[start : start + len(sequences)] = 0
        generated = [(row, token) for row, sequence in enumerate(sequences, start) for token in sequence.request.tokens]
        if generated:
            rows, tokens = to_device(torch.tensor(generated, dtype=torch.long), self.counts.device).unbind(1)
            self.counts.index_put_((rows, tokens), torch.ones_like(rows, dtype=torch.int32), accumulate=True)

    def set_values(self, tensor: torch.Tensor, rows: list[int], values: list[int]) -> None:
        """Write `values` into `tensor` at `rows` (one host-to-device copy)."""
        if rows:
            rows_and_values = to_device(torch.tensor([rows, values], dtype=torch.long), tensor.device)
            tensor[rows_and_values[0]] = rows_and_values[1]

    def append_blocks(self, sequences: list[LiveSequence]) -> None:
        """Write each sequence's newest block into its row's block table (one host-to-device copy)."""
        if sequences:
            row_of = {id(sequence): row for row, sequence in enumerate(self.sequences)}
            entries = [(row_of[id(s)], len(s.blocks) - 1, s.blocks[-1]) for s in sequences]
            rows, columns, blocks = to_device(torch.tensor(entries, dtype=torch.long), self.tables.device).unbind(1)
            self.tables[rows, columns] = blocks

    def update_bans(self, start: int, stop: int) -> None:
        """Write the banned token of rows start .. stop - 1 to the device where thinking control changed it."""
        changed = [row for row in range(start, stop) if self.bans[row] != banned_token(self.sequences[row].request)]
        for row in changed:
            self.bans[row] = banned_token(self.sequences[row].request)
        self.set_values(self.banned, changed, [self.bans[row] for row in changed])

    def remove(self, sequences: list[LiveSequence]) -> None:
        """Drop the rows of `sequences`, moving rows from the end into their places."""
        gone = {id(sequence) for sequence in sequences}
        rows = [row for row, sequence in enumerate(self.sequences) if id(sequence) in gone]
        kept = self.live - len(rows)
        holes = [row for row in rows if row < kept]
        movers = [row for row in range(kept, self.live) if id(self.sequences[row]) not in gone]
        for hole, mover in zip(holes, movers):
            self.sequences[hole], self.bans[hole] = self.sequences[mover], self.bans[mover]
        if holes:
            to, source = (to_device(torch.tensor(x), self.tokens.device) for x in (holes, movers))
            penalties = () if self.counts is None else (self.counts, self.presence, self.frequency)
            for tensor in (self.tokens, self.keys, self.counters, self.lengths, self.banned, self.tables, *penalties):
                tensor[to] = tensor[source]
        # Rows past the live ones may be decoded as padding: keep them empty and on the sink.
        self.lengths[kept : self.live] = 0
        self.banned[kept : self.live] = NO_BAN
        self.tables[kept : self.live] = SINK_BLOCK
        del self.sequences[kept:], self.bans[kept:]


def banned_token(request: Request) -> int:
    """The token the request may not sample next (NO_BAN: none)."""
    banned = None if request.thinking is None else request.thinking.banned
    return NO_BAN if banned is None else banned


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A host tensor on `device`; on CUDA through pinned memory, so the copy does not wait for the GPU."""
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)
