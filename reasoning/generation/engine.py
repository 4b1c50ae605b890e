"""The generation engine: a paged KV cache, continuous batching, one prefill per prompt.

Keys and values live in blocks of a shared pool (`reasoning.model.paged`); the scheduler
(`scheduler.py`) decides on the host who is admitted with which blocks, who grows, who is
preempted and where a branch starts. The engine carries its decisions out on the device:
prefills, block copies, decode steps and the rows they read, then records the chosen tokens.

Live sequences fill rows 0 .. live - 1 of a few per-row device tensors (`rows.py`: next token,
random stream, draws made, cached length, block table), so a decode step is one forward pass
over exactly the live rows; a finished row is filled by moving the last one into it, which
moves no cache memory. Waiting prompts take the free rows as others finish (continuous
batching, Orca, Yu et al. 2022). All bookkeeping lives on the host; the decode step itself
reads nothing back until its tokens are chosen (one transfer per step), so it compiles whole.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from reasoning.device import keep_freed_memory
from reasoning.generation.decode import CompiledStep, ban_tokens, eager_step
from reasoning.generation.request import Request
from reasoning.generation.rows import Rows, to_device
from reasoning.generation.sampling import SamplingParams, choose_tokens
from reasoning.generation.scheduler import Branch, Copy, Growth, Prefill, Scheduler, group_length, longest_first
from reasoning.model.packed import available_memory, prepack
from reasoning.model.paged import SINK_BLOCK, BlockPool, PagedKV, bytes_per_token
from reasoning.model.qwen3 import last_positions

COMPILE_MIN_STEPS = 8192  # compile=None compiles CUDA runs that may take this many decode steps: where compiling pays

Step = Callable[..., tuple[torch.Tensor, ...]]  # a decode step: eager_step's or a CompiledStep


@dataclass
class _Run:
    """One `Engine.run`'s state: who runs, the device rows they fill, how tokens are chosen."""

    scheduler: Scheduler
    rows: Rows
    decode: Step
    params: SamplingParams | None  # None: each request's own (an open run, `Engine.serve`)
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
        None compiles CUDA runs that may take COMPILE_MIN_STEPS decode steps (the longest
        budget, or all budgets over the batch size), where the one-time compile pays for
        itself under CUDA graphs. Never on a CPU unless asked: there the eager step on
        prepacked bf16 weights (`reasoning.model.packed`) is faster (README, "Fast by default"),
        with no compile to wait for (minutes in every process, inductor's on-disk caches filled
        or not). Never on MPS.
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
        prepack(model)  # on a CPU in bf16: decoding through oneDNN's prepacked kernels, the same tokens
        parameter = next(model.parameters())
        self.device, self.dtype = parameter.device, parameter.dtype
        if self.device.type == "cpu":
            keep_freed_memory()  # each step's temporaries reused, not page-faulted in again
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
        groups = longest_first(groups)
        if not groups:
            return
        yield from self._steps(self._start(groups, params, frozenset(eos_token_ids)), lambda idle: None if idle else [])

    @torch.inference_mode()
    def serve(self, inbox: Callable[[bool], list[list[Request]] | None], eos_token_ids: Sequence[int] = ()) -> Iterator[list[Request]]:
        """An open run: requests join it at any step, each with its own sampling (`Request.sampling`).

        `inbox(idle)` is asked before each step for the groups that arrived since (each one
        prompt's samples), in arrival order; when `idle` (nothing waits or runs) it may block
        until some arrive, and it returns None to end the run. Cancelled requests (cancel them
        inside `inbox`, between steps) leave before the next step. The pool and rows are sized
        for `max_batch_size` sequences of the model's whole context (or `max_cache_tokens`, where
        less: no request may be longer). Yields as `run` does.
        """
        longest = min(self.model.config.max_position_embeddings, self.max_cache_tokens or math.inf)
        scheduler = Scheduler(self._allocate(self.max_batch_size, longest), self.block_size, self.max_batch_size)
        width = math.ceil(longest / self.block_size) + 1
        rows = Rows(max(self.max_batch_size, 2), width, self.device, self.model.config.vocab_size, None)
        self.stats = EngineStats(self.block_size, scheduler.allocator.num_blocks)
        run = _Run(scheduler, rows, self._decoder(0), None, frozenset(eos_token_ids))  # compile only when asked
        yield from self._steps(run, inbox)

    def _steps(self, run: _Run, inbox: Callable[[bool], list[list[Request]] | None]) -> Iterator[list[Request]]:
        """Admit, grow and decode until `inbox(idle)` returns None, queueing the groups it hands over."""
        scheduler, rows = run.scheduler, run.rows
        while (arrived := inbox(scheduler.done)) is not None:
            for group in arrived:
                if run.params is None and any(request.sampling is None for request in group):
                    raise ValueError("every request of an open run needs its own sampling parameters (Request.sampling)")
                scheduler.add(group)
            rows.remove(scheduler.retire())  # finished, or cancelled since the last step
            if stepped := self._admit(run, scheduler.admit()):
                yield stepped
                rows.remove(scheduler.retire())
            self._grow(run, scheduler.grow())
            if rows.live:
                yield self._decode(run)

    def _start(self, groups: list[list[Request]], params: SamplingParams, eos: frozenset[int]) -> _Run:
        """A run's pool, scheduler (every group queued), rows and decode step."""
        longest = max(group_length(group) for group in groups)
        budgets = [r.max_new_tokens for group in groups for r in group]
        steps = max(max(budgets), math.ceil(sum(budgets) / self.max_batch_size))
        scheduler = Scheduler(self._allocate(len(budgets), longest), self.block_size, self.max_batch_size)
        for group in groups:
            scheduler.add(group)
        width = math.ceil(longest / self.block_size) + 1  # one spare: compiled steps read at least 2 blocks
        rows = Rows(max(self.max_batch_size, 2), width, self.device, self.model.config.vocab_size, params)
        self.stats = EngineStats(self.block_size, scheduler.allocator.num_blocks)
        return _Run(scheduler, rows, self._decoder(steps), params, eos)

    def _allocate(self, requests: int, longest: int) -> int:
        """How many blocks (the sink included) this run may use; the pool is reallocated only when
        the last run's is too small."""
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
        return num_blocks

    def _decoder(self, steps: int) -> Step:
        """The decode step for a run that may take `steps` steps: compiled where that pays (see `compile`)."""
        compile = self.compile if self.compile is not None else self.device.type == "cuda" and steps >= COMPILE_MIN_STEPS
        if compile and self.device.type == "mps":
            warnings.warn("torch.compile is not used on MPS; decoding runs eagerly", stacklevel=5)
            compile = False
        return CompiledStep(self.model, self.max_batch_size == 1) if compile else eager_step(self.model)

    def _admit(self, run: _Run, prefills: list[Prefill]) -> list[Request]:
        """Prefill the admitted prompts into their blocks, copy their partial blocks to the other
        samples, give the sequences rows and sample the first token of new prompts (placed first)."""
        if not prefills:
            return []
        logits = self._prefill([p.tokens for p in prefills], [p.blocks for p in prefills])
        self._copy_blocks([copy for prefill in prefills for copy in prefill.copies])
        rows, start = run.rows, run.rows.live
        rows.place([sequence for prefill in prefills for sequence in prefill.sequences])
        sources = [index for index, prefill in enumerate(prefills) if not prefill.resumed for _ in prefill.sequences]
        if not sources:
            return []
        stop = start + len(sources)
        logits = logits[to_device(torch.tensor(sources), self.device)]
        banned = rows.banned[start:stop] if rows.has_bans else None
        penalties = rows.penalties(start, stop)
        params = run.params if run.params is not None else rows.sampling(start, stop)
        chosen = choose_tokens(ban_tokens(logits, banned), params, rows.keys[start:stop], rows.counters[start:stop], penalties)
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

    def _copy_blocks(self, copies: list[Copy]) -> None:
        """Copy whole blocks of the pool, source into target (one host-to-device copy)."""
        if copies:
            source, target = to_device(torch.tensor(copies, dtype=torch.long), self.device).unbind(1)
            self._pool.copy_blocks(source, target)

    def _grow(self, run: _Run, growth: Growth) -> None:
        """Free the preempted sequences' rows and write the new blocks into the block tables."""
        run.rows.remove(growth.preempted)
        run.rows.append_blocks(growth.grown)
        self.stats.preemptions += len(growth.preempted)

    def _decode(self, run: _Run) -> list[Request]:
        """One decode step over the live rows; each sequence caches one more position."""
        rows, live = run.rows, run.rows.live
        width = math.ceil((max(s.cached for s in rows.sequences) + 1) / self.block_size)
        chosen = run.decode(self._pool, rows, live, width, run.params)  # None: each row's own (rows.sampling)
        rows.lengths[:live] += 1
        run.scheduler.advance()
        self.stats.live.append(live)
        self.stats.blocks.append(run.scheduler.allocator.used)
        return self._record(run, 0, chosen)

    def _record(self, run: _Run, start: int, chosen: tuple[torch.Tensor, ...]) -> list[Request]:
        """Store the chosen tokens of rows start.. as their next inputs and in their requests
        (thinking control may replace them) and start the branches of requests that reached a
        branch point. Finished requests keep their rows until the scheduler retires them."""
        rows, tokens = run.rows, chosen[0]
        stop = start + tokens.shape[0]
        rows.tokens[start:stop] = tokens
        rows.counters[start:stop] += 1
        sequences = rows.sequences[start:stop]
        values = torch.stack([value.double() for value in chosen]).tolist()  # the step's one read from the device
        replaced, replacements, branches = [], [], []
        for row, (sequence, sampled, logprob, sampling_logprob) in enumerate(zip(sequences, *values), start):
            request, token, forced = sequence.request, int(sampled), False
            if request.thinking is not None:
                token, forced = request.thinking.next_token(token)
                if token != sampled:
                    replaced.append(row)
                    replacements.append(token)
            request.add(token, logprob, sampling_logprob, run.eos, forced)
            if (branch := request.branch()) is not None and branch.finish_reason is None:
                branches.append(run.scheduler.branch(sequence, branch))
        rows.set_values(rows.tokens, replaced, replacements)
        rows.count_tokens(start, stop)  # as recorded: a token thinking control forced counts too
        rows.update_bans(start, stop)
        self._start_branches(run, [branch for branch in branches if branch is not None])
        return [sequence.request for sequence in sequences]

    def _start_branches(self, run: _Run, branches: list[Branch]) -> None:
        """Give the branches admitted at once their rows, after copying their parents' partial blocks."""
        if not branches:
            return
        self._copy_blocks([copy for branch in branches for copy in branch.copies])
        run.rows.place([branch.sequence for branch in branches])


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
    return available_memory()
