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

import math
import os
import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from reasoning.generation.blocks import BlockAllocator
from reasoning.generation.decode import CompiledStep, ban_tokens, eager_step
from reasoning.generation.request import FINISH_LENGTH, Request
from reasoning.generation.rows import LiveSequence, Rows, banned_token, to_device
from reasoning.generation.sampling import SamplingParams, choose_tokens
from reasoning.model.paged import SINK_BLOCK, BlockPool, PagedKV, bytes_per_token
from reasoning.model.qwen3 import last_positions

COMPILE_MIN_STEPS = 8192  # compile=None compiles runs that may take this many decode steps: where compiling pays


@dataclass
class _Waiting:
    """Requests not yet admitted: the samples of one prompt, or one preempted request."""

    prompt: list[int]  # what to prefill: the prompt, or a preempted request's prompt and tokens but the last
    requests: deque[Request]
    resumed: bool = False


@dataclass
class _Run:
    """One `Engine.run`'s state: the live rows, the blocks, who waits, how tokens are chosen."""

    rows: Rows
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
        rows = Rows(max(self.max_batch_size, 2), width, self.device)
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
        return CompiledStep(self.model, self.max_batch_size == 1) if compile else eager_step(self.model)

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
                sequences.append(LiveSequence(request, own, len(entry.prompt)))
                next_tokens.append(request.tokens[-1] if entry.resumed else 0)  # new rows: set once sampled
                if not entry.resumed:
                    sources.append(index)
        if copies:
            source, target = to_device(torch.tensor(copies, dtype=torch.long), self.device).unbind(1)
            self._pool.copy_blocks(source, target)
        start = rows.live
        rows.place(sequences, next_tokens, [len(s.request.tokens) for s in sequences])
        if not sources:
            return []
        stop = start + len(sources)
        logits = logits[to_device(torch.tensor(sources), self.device)]
        chosen = choose_tokens(ban_tokens(logits, rows.banned[start:stop] if rows.has_bans else None), run.params, rows.keys[start:stop], rows.counters[start:stop])
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
            cache = PagedKV(self._pool, to_device(tables, self.device), lengths, fresh=True)
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
            self._pool.copy_blocks(*(to_device(torch.tensor([block]), self.device) for block in (parent.blocks[full], blocks[-1])))
        rows.place([LiveSequence(branch, blocks, parent.cached)], [branch.tokens[-1]], [len(branch.tokens)])

    def _update_bans(self, rows: Rows, start: int, stop: int) -> None:
        """Write each row's banned token to the device where thinking control changed it."""
        changed = [row for row in range(start, stop) if rows.sequences[row].banned != banned_token(rows.sequences[row].request)]
        for row in changed:
            rows.sequences[row].banned = banned_token(rows.sequences[row].request)
        rows.set_values(rows.banned, changed, [rows.sequences[row].banned for row in changed])

    def _drop(self, run: _Run, finished: list[int]) -> None:
        for row in finished:
            run.allocator.release(run.rows.sequences[row].blocks)
        run.rows.remove(finished)


def _resumed(request: Request) -> _Waiting:
    """A request with tokens, waiting to be prefilled again (its last token is its next input)."""
    return _Waiting(request.prompt + request.tokens[:-1], deque([request]), resumed=True)


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
