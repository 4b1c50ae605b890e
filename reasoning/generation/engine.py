"""The generation engine: a paged KV cache, continuous batching, one prefill per prompt.

Keys and values live in blocks of a shared pool (`reasoning.model.paged`). A sequence gets
blocks as it grows and gives them back when it ends, so requests are admitted by the blocks
free now, not by a row of the longest length a request might reach: when most reasoning
traces stop far short of their budget, several times more sequences decode together in the
same memory. The n samples of a prompt read its prefilled blocks by reference; only the
partly filled last block is copied, once per sample. When the pool runs dry mid-decode, the
sequence admitted last is preempted: its blocks are freed and it waits, to be prefilled
again from its tokens (recomputation) and continue where it stopped.

Live sequences fill rows 0 .. live - 1 of a few per-row device tensors (next token, random
stream, draws made, cached length, block table), so a decode step is one forward pass over
exactly the live rows; a finished row is filled by moving the last one into it, which moves
no cache memory. Waiting prompts take the free rows as others finish (continuous batching,
Orca, Yu et al. 2022). All bookkeeping lives on the host; the decode step itself reads
nothing back until its tokens are chosen (one transfer per step), so it compiles whole.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.fx.experimental import _config as fx_config

from reasoning.generation.blocks import BlockAllocator
from reasoning.generation.detokenize import IncrementalText
from reasoning.generation.sampling import SamplingParams, choose_tokens
from reasoning.generation.thinking import THINKING, ThinkingTracker
from reasoning.model.paged import SINK_BLOCK, BlockPool, PagedKV, bytes_per_token
from reasoning.model.qwen3 import last_positions

FINISH_EOS, FINISH_STOP, FINISH_LENGTH, FINISH_CANCELLED = "eos", "stop", "length", "cancelled"
NO_BAN = -1
COMPILE_MIN_STEPS = 8192  # compile=None compiles runs that may take this many decode steps: where compiling pays


@dataclass(eq=False)
class Request:
    """One sequence to generate and its progress: tokens, log-probs and why it stopped."""

    prompt: list[int]
    max_new_tokens: int
    key: int = 0  # its random stream (see sampling.request_key)
    text: IncrementalText | None = None  # decodes as it goes, for stop strings and streaming
    thinking: ThinkingTracker | None = None  # thinking budget, floor and wait extension
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    sampling_logprobs: list[float] = field(default_factory=list)
    forced: list[bool] = field(default_factory=list)  # appended by thinking control, not sampled
    finish_reason: str | None = None
    branch_at: frozenset[int] = frozenset()  # thinking budgets at which to branch (the budget sweep)
    branches: dict[int, Request] = field(default_factory=dict)  # budget -> the branch closed there
    inherited: int = 0  # tokens a branch took over from its parent (decoded once, by the parent)

    def add(self, token: int, logprob: float, sampling_logprob: float, eos_token_ids: frozenset[int], forced: bool = False) -> bool:
        """Record one generated token; True when the request is finished.

        A forced token has no log-probs of its own (0.0 in both lists): it was not sampled.
        """
        self.tokens.append(token)
        self.logprobs.append(0.0 if forced else logprob)
        self.sampling_logprobs.append(0.0 if forced else sampling_logprob)
        self.forced.append(forced)
        if token in eos_token_ids and not forced:
            self.finish_reason = FINISH_EOS
        elif self.text is not None and self.text.push(token):
            self.finish_reason = FINISH_STOP
        elif len(self.tokens) >= self.max_new_tokens or (self.thinking is not None and self.thinking.finished):
            self.finish_reason = FINISH_LENGTH
        if self.finish_reason is not None and self.text is not None:
            self.text.flush()
        return self.finish_reason is not None

    def branch(self) -> Request | None:
        """When the thinking has just reached a budget in branch_at: a copy of this request that
        closes its thinking there (as a run with that budget would), recorded in `branches`."""
        tracker = self.thinking
        if tracker is None or tracker.phase != THINKING or tracker.thinking not in self.branch_at or tracker.thinking in self.branches:
            return None
        branch = Request(
            self.prompt, self.max_new_tokens, self.key, None if self.text is None else self.text.copy(),
            tracker.with_budget(tracker.thinking), list(self.tokens), list(self.logprobs), list(self.sampling_logprobs),
            list(self.forced), self.finish_reason, inherited=len(self.tokens),
        )  # fmt: skip
        self.branches[tracker.thinking] = branch
        return branch

    def cancel(self) -> None:
        """Stop generating this request; the engine drops it before its next step."""
        if self.finish_reason is None:
            self.finish_reason = FINISH_CANCELLED
            if self.text is not None:
                self.text.flush()


@dataclass(eq=False)
class _Sequence:
    """A live request: its blocks and how many of its positions the pool holds."""

    request: Request
    blocks: list[int]
    cached: int
    admitted: int = 0  # admission order, set when placed: the latest admitted is preempted first
    banned: int = -1  # the token its row may not sample next, as last written to the device


@dataclass
class _Waiting:
    """Requests not yet admitted: the samples of one prompt, or one preempted request."""

    prompt: list[int]  # what to prefill: the prompt, or a preempted request's prompt and tokens but the last
    requests: deque[Request]
    resumed: bool = False


@dataclass
class _Run:
    """One `Engine.run`'s state: the live rows, the blocks, who waits, how tokens are chosen."""

    rows: _Rows
    allocator: BlockAllocator
    waiting: deque[_Waiting]
    params: SamplingParams
    eos: frozenset[int]


@dataclass
class EngineStats:
    """What the last run did with its memory: blocks held and sequences live after each decode step."""

    block_size: int = 0
    pool_blocks: int = 0
    preemptions: int = 0
    live: list[int] = field(default_factory=list)
    blocks: list[int] = field(default_factory=list)

    @property
    def peak_blocks(self) -> int:
        return max(self.blocks, default=0)


class _Rows:
    """Per-row device tensors of the live sequences, in row order."""

    def __init__(self, rows: int, width: int, device: torch.device) -> None:
        self.sequences: list[_Sequence] = []
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

    def place(self, sequences: list[_Sequence], next_tokens: list[int], counters: list[int]) -> None:
        """Put new sequences in the rows after the live ones (one host-to-device copy)."""
        start, width = self.live, self.tables.shape[1]
        columns = (self.tokens, self.keys, self.counters, self.lengths, self.banned)
        values = torch.full((len(sequences), len(columns) + width), SINK_BLOCK, dtype=torch.long)
        for row, (sequence, token, counter) in enumerate(zip(sequences, next_tokens, counters)):
            sequence.admitted, self.admissions = self.admissions, self.admissions + 1
            sequence.banned = _banned(sequence.request)
            values[row, : len(columns)] = torch.tensor([token, sequence.request.key, counter, sequence.cached, sequence.banned])
            values[row, len(columns) : len(columns) + len(sequence.blocks)] = torch.tensor(sequence.blocks)
        values = _to_device(values, self.tokens.device)
        stop = start + len(sequences)
        for column, tensor in enumerate(columns):
            tensor[start:stop] = values[:, column]
        self.tables[start:stop] = values[:, len(columns) :]
        self.sequences.extend(sequences)

    def set_values(self, tensor: torch.Tensor, rows: list[int], values: list[int]) -> None:
        """Write `values` into `tensor` at `rows` (one host-to-device copy)."""
        if rows:
            rows_and_values = _to_device(torch.tensor([rows, values], dtype=torch.long), tensor.device)
            tensor[rows_and_values[0]] = rows_and_values[1]

    def set_blocks(self, entries: list[tuple[int, int, int]]) -> None:
        """Write (row, column, block) entries into the block tables (one host-to-device copy)."""
        if entries:
            rows, columns, blocks = _to_device(torch.tensor(entries, dtype=torch.long), self.tables.device).unbind(1)
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
            to, source = (_to_device(torch.tensor(x), self.tokens.device) for x in (holes, movers))
            for tensor in (self.tokens, self.keys, self.counters, self.lengths, self.banned, self.tables):
                tensor[to] = tensor[source]
        # Rows past the live ones may be decoded as padding: keep them empty and on the sink.
        self.lengths[kept : self.live] = 0
        self.banned[kept : self.live] = NO_BAN
        self.tables[kept : self.live] = SINK_BLOCK
        del self.sequences[kept:]


class Engine:
    """Generates many requests with one model, keeping the batch full as requests finish.

    max_batch_size: the most sequences decoded at once.
    max_cache_tokens: the KV cache's size in tokens; by default enough for max_batch_size
        sequences of the longest request, but at most `memory_fraction` of the memory free on
        the device (of the memory available, on a CPU). Sequences held follow from the tokens
        actually cached, not from their budgets.
    block_size: token positions per cache block.
    prefill_tokens: the most (padded) prompt tokens per prefill forward pass.
    compile: run decode steps (forward and sampling) through `torch.compile`, as one graph;
        None compiles runs that may take COMPILE_MIN_STEPS decode steps (the longest budget,
        or all budgets over the batch size), where the one-time compile (about two minutes
        for the 0.6B model on a 2-core CPU, once per process) pays for itself. Never on MPS.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        max_batch_size: int = 32,
        max_cache_tokens: int | None = None,
        memory_fraction: float = 0.5,
        block_size: int = 16,
        prefill_tokens: int = 2048,
        compile: bool | None = None,
    ) -> None:
        if max_batch_size < 1 or prefill_tokens < 1 or block_size < 1:
            raise ValueError("max_batch_size, block_size and prefill_tokens must be at least 1")
        if not 0 < memory_fraction <= 1:
            raise ValueError(f"memory_fraction must be in (0, 1], got {memory_fraction}")
        self.model = model
        parameter = next(model.parameters())
        self.device, self.dtype = parameter.device, parameter.dtype
        self.max_batch_size = max_batch_size
        self.max_cache_tokens = max_cache_tokens
        self.memory_fraction = memory_fraction
        self.block_size = block_size
        self.prefill_tokens = prefill_tokens
        self.compile = compile
        self.stats = EngineStats()
        self._pool: BlockPool | None = None

    @torch.inference_mode()
    def run(
        self, groups: Sequence[Sequence[Request]], params: SamplingParams, eos_token_ids: Sequence[int] = ()
    ) -> Iterator[list[Request]]:
        """Generate every request; each group's requests share one prompt (prefilled once).

        Yields, after each forward pass, the requests that received a token in it (finished
        ones have their finish_reason set), so callers can stream; exhaust it to just run.
        A caller may `cancel()` any request between steps (self-consistency stopping early).
        """
        for request in (r for group in groups for r in group if r.max_new_tokens <= 0):
            request.finish_reason = FINISH_LENGTH
        groups = [[r for r in group if r.finish_reason is None] for group in groups]
        groups = [group for group in groups if group]
        if not groups:
            return
        # Longest first (LPT scheduling, Graham 1969): a long request admitted last would
        # decode alone at the end, with the batch nearly empty.
        groups.sort(key=lambda g: len(g[0].prompt) + max(r.max_new_tokens for r in g), reverse=True)
        longest = len(groups[0][0].prompt) + max(r.max_new_tokens for r in groups[0])
        budgets = [r.max_new_tokens for group in groups for r in group]
        steps = max(max(budgets), math.ceil(sum(budgets) / self.max_batch_size))
        allocator = self._allocate(sum(len(g) for g in groups), longest)
        decode = self._decoder(steps)
        width = math.ceil(longest / self.block_size) + 1  # one spare: compiled steps read at least 2 blocks
        rows = _Rows(max(self.max_batch_size, 2), width, self.device)
        run = _Run(rows, allocator, deque(_Waiting(g[0].prompt, deque(g)) for g in groups), params, frozenset(eos_token_ids))
        self.stats = EngineStats(self.block_size, allocator.num_blocks)
        while run.waiting or rows.live:
            cancelled = [row for row, s in enumerate(rows.sequences) if s.request.finish_reason is not None]
            if cancelled:
                self._drop(run, cancelled)
            if run.waiting:
                stepped = self._admit(run)
                if stepped:
                    yield stepped
            if rows.live and self._grow(run):
                yield self._decode(decode, run)

    def _allocate(self, requests: int, longest: int) -> BlockAllocator:
        """A block pool for this run (the last run's when big enough) and its allocator."""
        tokens = self.max_cache_tokens
        if tokens is None:  # every sequence could reach the longest length
            tokens = min(self.max_batch_size, requests) * math.ceil(longest / self.block_size) * self.block_size
            tokens = min(tokens, max(longest, int(self.memory_fraction * _free_memory(self.device) / bytes_per_token(self.model.config, self.dtype))))
        num_blocks = tokens // self.block_size + 1  # and the sink
        if (num_blocks - 1) * self.block_size < longest:
            raise ValueError(f"max_cache_tokens={tokens} cannot hold one request of {longest} tokens")
        if self._pool is None or self._pool.num_blocks < num_blocks:
            self._pool = None  # free the old one before allocating
            self._pool = BlockPool.allocate(self.model.config, num_blocks, self.block_size, device=self.device, dtype=self.dtype)
            if self.device.type == "cuda":  # CUDA graphs write into the pool in place
                torch._dynamo.mark_static_address(self._pool.keys)
                torch._dynamo.mark_static_address(self._pool.values)
        return BlockAllocator(num_blocks)

    def _decoder(self, steps: int):
        compile = self.compile if self.compile is not None else steps >= COMPILE_MIN_STEPS
        if compile and self.device.type == "mps":
            warnings.warn("torch.compile is not used on MPS; decoding runs eagerly", stacklevel=4)
            compile = False
        return _CompiledStep(self.model, self.max_batch_size == 1) if compile else _eager_step(self.model)

    def _admit(self, run: _Run) -> list[Request]:
        """Prefill waiting prompts into free rows and blocks; sample the first token of new ones.

        A prompt's samples share its full blocks and get a copy of its last partial block each.
        Admission leaves 1% of the blocks free for the live sequences to grow into (vLLM's
        watermark), except that an empty batch always takes the first waiting prompt.
        """
        rows, allocator, waiting, size = run.rows, run.allocator, run.waiting, self.block_size
        watermark = allocator.num_blocks // 100
        plans: list[tuple[_Waiting, list[Request], list[int]]] = []
        free_rows, free_blocks = self.max_batch_size - rows.live, allocator.free
        while waiting and free_rows:
            entry = waiting[0]
            pending = [r for r in entry.requests if r.finish_reason is None]  # not cancelled
            reserve = watermark if rows.live or plans else 0
            take = min(len(pending), free_rows)
            while take and _blocks_needed(len(entry.prompt), take, size) + reserve > free_blocks:
                take -= 1
            if pending and not take:
                break
            if take:
                plans.append((entry, pending[:take], [allocator.take() for _ in range(math.ceil(len(entry.prompt) / size))]))
                free_rows, free_blocks = free_rows - take, free_blocks - _blocks_needed(len(entry.prompt), take, size)
            entry.requests = deque(pending[take:])
            if not entry.requests:
                waiting.popleft()
        if not plans:
            return []
        plans.sort(key=lambda plan: (plan[0].resumed, len(plan[0].prompt)))  # new prompts first: their rows get a first token
        logits = self._prefill([entry.prompt for entry, _, _ in plans], [blocks for _, _, blocks in plans])
        sequences, next_tokens, sources, copies = [], [], [], []
        for index, (entry, requests, blocks) in enumerate(plans):
            full = len(entry.prompt) // size
            for sample, request in enumerate(requests):
                own = blocks
                if sample:  # the prompt's full blocks by reference, its partial last block copied
                    allocator.share(blocks[:full])
                    own = blocks[:full] + [allocator.take() for _ in blocks[full:]]
                    copies += zip(blocks[full:], own[full:])
                sequences.append(_Sequence(request, own, len(entry.prompt)))
                next_tokens.append(request.tokens[-1] if entry.resumed else 0)  # new rows: set once sampled
                if not entry.resumed:
                    sources.append(index)
        if copies:
            source, target = _to_device(torch.tensor(copies, dtype=torch.long), self.device).unbind(1)
            self._pool.copy_blocks(source, target)
        start = rows.live
        rows.place(sequences, next_tokens, [len(s.request.tokens) for s in sequences])
        if not sources:
            return []
        stop = start + len(sources)
        logits = logits[_to_device(torch.tensor(sources), self.device)]
        chosen = choose_tokens(ban_tokens(logits, rows.banned[start:stop]), run.params, rows.keys[start:stop], rows.counters[start:stop])
        return self._record(run, start, chosen)

    def _prefill(self, prompts: list[list[int]], blocks: list[list[int]]) -> torch.Tensor:
        """Run prompts into their blocks, in length-sorted right-padded chunks; their last logits, in order."""
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        logits: list[torch.Tensor | None] = [None] * len(prompts)
        for chunk in _chunks(order, [len(p) for p in prompts], self.prefill_tokens):
            ids, mask = _right_pad([prompts[i] for i in chunk], self.device)
            width = math.ceil(ids.shape[1] / self.block_size)
            tables = torch.full((len(chunk), width), SINK_BLOCK, dtype=torch.long)
            for row, i in enumerate(chunk):
                tables[row, : len(blocks[i])] = torch.tensor(blocks[i])
            lengths = torch.zeros(len(chunk), dtype=torch.long, device=self.device)
            cache = PagedKV(self._pool, _to_device(tables, self.device), lengths, fresh=True)
            chunk_logits = self.model.logits(last_positions(self.model(ids, attention_mask=mask, cache=cache), mask))
            for row, i in enumerate(chunk):
                logits[i] = chunk_logits[row]
        return torch.stack(logits)

    def _grow(self, run: _Run) -> bool:
        """Give each row whose next position starts a block a new one, preempting the latest
        admitted sequences while none is free. False if no row is left to decode."""
        rows, allocator, grown = run.rows, run.allocator, []
        for sequence in [s for s in rows.sequences if s.cached == len(s.blocks) * self.block_size]:
            while not allocator.free and sequence in rows.sequences:
                self._preempt(run)
            if sequence in rows.sequences:
                sequence.blocks.append(allocator.take())
                grown.append(sequence)
        row_of = {id(s): row for row, s in enumerate(rows.sequences)}
        rows.set_blocks([(row_of[id(s)], len(s.blocks) - 1, s.blocks[-1]) for s in grown if id(s) in row_of])
        return bool(rows.live)

    def _preempt(self, run: _Run) -> None:
        """Free the blocks of the latest admitted sequence; it waits first in line, to be recomputed."""
        row = max(range(run.rows.live), key=lambda r: run.rows.sequences[r].admitted)
        request = run.rows.sequences[row].request
        self._drop(run, [row])
        run.waiting.appendleft(_resumed(request))
        self.stats.preemptions += 1

    def _decode(self, decode, run: _Run) -> list[Request]:
        rows, live = run.rows, run.rows.live
        width = math.ceil((max(s.cached for s in rows.sequences) + 1) / self.block_size)
        chosen = decode(self._pool, rows, live, width, run.params)
        rows.lengths[:live] += 1
        for sequence in rows.sequences:
            sequence.cached += 1
        self.stats.live.append(live)
        self.stats.blocks.append(run.allocator.used)
        return self._record(run, 0, chosen)

    def _record(self, run: _Run, start: int, chosen: tuple[torch.Tensor, ...]) -> list[Request]:
        """Store the chosen tokens of rows start.. as their next inputs and in their requests
        (thinking control may replace them), branch requests that reached a branch point, drop
        finished rows."""
        rows, tokens = run.rows, chosen[0]
        stop = start + tokens.shape[0]
        rows.tokens[start:stop] = tokens
        rows.counters[start:stop] += 1
        stepped = [s.request for s in rows.sequences[start:stop]]
        values = torch.stack([value.double() for value in chosen]).tolist()  # the step's one read from the device
        finished, replaced, replacements, branches = [], [], [], []
        for row, (request, sampled, logprob, sampling_logprob) in enumerate(zip(stepped, *values), start):
            token, forced = int(sampled), False
            if request.thinking is not None:
                token, forced = request.thinking.next_token(token)
                if token != sampled:
                    replaced.append(row)
                    replacements.append(token)
            if request.add(token, logprob, sampling_logprob, run.eos, forced):
                finished.append(row)
            if (branch := request.branch()) is not None and branch.finish_reason is None:
                branches.append((row, branch))
        rows.set_values(rows.tokens, replaced, replacements)
        self._update_bans(rows, start, stop)
        for row, branch in branches:
            self._branch(run, row, branch)
        if finished:
            self._drop(run, finished)
        return stepped

    def _branch(self, run: _Run, row: int, branch: Request) -> None:
        """Start `branch`, a copy of the request in `row` so far, as a row of its own that reads
        the cached positions by reference (its partly filled last block copied); without a free
        row and block, it waits to be recomputed."""
        rows, allocator, parent = run.rows, run.allocator, run.rows.sequences[row]
        full = parent.cached // self.block_size
        partial = parent.cached % self.block_size != 0
        if rows.live >= self.max_batch_size or allocator.free < partial:
            run.waiting.appendleft(_resumed(branch))
            return
        allocator.share(parent.blocks[:full])
        blocks = parent.blocks[:full] + [allocator.take() for _ in range(partial)]
        if partial:
            self._pool.copy_blocks(*(_to_device(torch.tensor([block]), self.device) for block in (parent.blocks[full], blocks[-1])))
        rows.place([_Sequence(branch, blocks, parent.cached)], [branch.tokens[-1]], [len(branch.tokens)])

    def _update_bans(self, rows: _Rows, start: int, stop: int) -> None:
        """Write each row's banned token to the device where thinking control changed it."""
        changed = [row for row in range(start, stop) if rows.sequences[row].banned != _banned(rows.sequences[row].request)]
        for row in changed:
            rows.sequences[row].banned = _banned(rows.sequences[row].request)
        rows.set_values(rows.banned, changed, [rows.sequences[row].banned for row in changed])

    def _drop(self, run: _Run, finished: list[int]) -> None:
        for row in finished:
            run.allocator.release(run.rows.sequences[row].blocks)
        run.rows.remove(finished)


def _resumed(request: Request) -> _Waiting:
    """A request with tokens, waiting to be prefilled again (its last token is its next input)."""
    return _Waiting(request.prompt + request.tokens[:-1], deque([request]), resumed=True)


def _banned(request: Request) -> int:
    """The token the request may not sample next (NO_BAN: none)."""
    banned = None if request.thinking is None else request.thinking.banned
    return NO_BAN if banned is None else banned


def ban_tokens(logits: torch.Tensor, banned: torch.Tensor) -> torch.Tensor:
    """Logits [batch, vocab] with token banned[row] of each row at -inf (NO_BAN: none); no host sync."""
    index = banned.clamp(min=0)[:, None]
    kept = logits.gather(1, index)
    return logits.scatter(1, index, torch.where(banned[:, None] == NO_BAN, kept, -math.inf))


def _blocks_needed(prompt_length: int, samples: int, block_size: int) -> int:
    """Blocks that `samples` samples of one prompt take at admission: the prompt's, shared, and
    a copy of its partial last block for each sample but the first."""
    return math.ceil(prompt_length / block_size) + (samples - 1) * (prompt_length % block_size != 0)


def _chunks(order: list[int], lengths: list[int], max_tokens: int) -> Iterator[list[int]]:
    """Consecutive groups of the length-sorted indices `order` whose padded size stays within max_tokens."""
    chunk: list[int] = []
    for index in order:
        if chunk and (len(chunk) + 1) * lengths[index] > max_tokens:
            yield chunk
            chunk = []
        chunk.append(index)
    if chunk:
        yield chunk


def _right_pad(prompts: list[list[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Token ids [batch, longest] padded on the right, and the mask of real tokens (None if unpadded)."""
    longest = max(len(p) for p in prompts)
    ids = torch.zeros(len(prompts), longest, dtype=torch.long)
    mask = torch.zeros(len(prompts), longest, dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, : len(prompt)] = torch.tensor(prompt)
        mask[row, : len(prompt)] = 1
    if all(len(p) == longest for p in prompts):
        return ids.to(device), None
    return ids.to(device), mask.to(device)


def _to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A host tensor on `device`; on CUDA through pinned memory, so the copy does not wait for the GPU."""
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def _free_memory(device: torch.device) -> int:
    """Bytes free on the device (CUDA) or available to this process (elsewhere)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


# ---------------------------------------------------------------------------- the decode step


def decode_step(
    model: nn.Module, pool: BlockPool, tokens: torch.Tensor, lengths: torch.Tensor, tables: torch.Tensor,
    keys: torch.Tensor, counters: torch.Tensor, banned: torch.Tensor, params: SamplingParams,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """One token for each row: the forward over its next input, then sampling. No host sync."""
    hidden = model(tokens[:, None], cache=PagedKV(pool, tables, lengths))
    return choose_tokens(ban_tokens(model.logits(hidden[:, -1]), banned), params, keys, counters)


def _eager_step(model: nn.Module):
    def step(pool: BlockPool, rows: _Rows, live: int, width: int, params: SamplingParams) -> tuple[torch.Tensor, ...]:
        return decode_step(
            model, pool, rows.tokens[:live], rows.lengths[:live], rows.tables[:live, :width], rows.keys[:live],
            rows.counters[:live], rows.banned[:live], params,
        )  # fmt: skip

    return step


class _CompiledStep:
    """The decode step through torch.compile: one graph (fullgraph) for every batch and length.

    Inputs must never look special to the compiler: batches and table widths below 2 are
    padded to 2 (an idle row on the sink, a masked sink block), and sizes that happen to be
    equal are not assumed equal (duck shaping off); an engine of one row (streaming, chat)
    gets its own one-row graph. On CUDA the step runs under CUDA graphs (reduce-overhead),
    with batches and widths rounded up to powers of two so a few graphs serve every step.

    Weights: while a model's weights stay as they were at its first compile, the graph is
    compiled with inductor's freezing (weights as constants; on CPU oneDNN then runs bf16
    linears on prepacked weights, about twice as fast). Once they change in place (a training
    step), or for models passed to `decode_with_live_weights`, a second graph reads them as
    inputs, so RL rollouts always decode with the current policy.
    """

    def __init__(self, model: nn.Module, single_row: bool) -> None:
        self.model, self.single_row = model, single_row
        self.cuda = next(model.parameters()).device.type == "cuda"

    def __call__(self, pool: BlockPool, rows: _Rows, live: int, width: int, params: SamplingParams) -> tuple[torch.Tensor, ...]:
        batch = live if self.single_row else max(live, 2)
        width = max(width, 2)
        if self.cuda:
            batch, width = min(_power_of_two(batch), rows.tokens.shape[0]), min(_power_of_two(width), rows.tables.shape[1])
        frozen = self.model not in _LIVE_WEIGHTS and _FROZEN_VERSIONS.setdefault(self.model, _weights_version(self.model)) == _weights_version(self.model)
        step = _compiled_steps(self.cuda)[frozen]
        with torch._inductor.config.patch(freezing=frozen), fx_config.patch(use_duck_shape=False):
            chosen = step(
                self.model, pool, rows.tokens[:batch], rows.lengths[:batch], rows.tables[:batch, :width],
                rows.keys[:batch], rows.counters[:batch], rows.banned[:batch], params,
            )  # fmt: skip
        return tuple(value[:live] for value in chosen)


def _frozen_weights_step(*args):
    return decode_step(*args)


def _live_weights_step(*args):
    return decode_step(*args)


@functools.cache
def _compiled_steps(cuda: bool) -> dict[bool, object]:
    """The compiled step by frozen-or-not. Two functions, so two code objects: torch.compile
    caches graphs per code object, and a frozen graph must never serve changed weights."""
    mode = "reduce-overhead" if cuda else None
    compile = functools.partial(torch.compile, dynamic=True, fullgraph=True, mode=mode)
    return {True: compile(_frozen_weights_step), False: compile(_live_weights_step)}


_FROZEN_VERSIONS: weakref.WeakKeyDictionary[nn.Module, int] = weakref.WeakKeyDictionary()
_LIVE_WEIGHTS: weakref.WeakSet[nn.Module] = weakref.WeakSet()


def decode_with_live_weights(model: nn.Module) -> None:
    """Compiled decoding of `model` reads its weights at every step (training changes them)."""
    _LIVE_WEIGHTS.add(model)


def _weights_version(model: nn.Module) -> int:
    """Sum of the parameters' in-place modification counters: changes when any weight is written."""
    return sum(parameter._version for parameter in model.parameters())


def _power_of_two(value: int) -> int:
    return 1 << (value - 1).bit_length()
