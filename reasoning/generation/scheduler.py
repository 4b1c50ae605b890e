"""Who runs in the generation engine, decided on the host: admission, block growth, preemption, branches.

Plain Python, no tensors: the scheduler owns the waiting queue, the block allocator and each
live sequence's blocks and cached length, and answers the engine with plain decisions (what to
prefill into which blocks, which blocks to copy, which sequences to add or remove) that the
engine carries out on the device, as nano-vllm's `Scheduler` and `BlockManager` do for its
`ModelRunner`. So every policy below can be tested without a model.

- Admission is by blocks free now, not by a request's budget: when most reasoning traces stop
  far short of it, several times more sequences decode together in the same memory. The n
  samples of a prompt read its prefilled blocks by reference; only the partly filled last
  block is copied, once per sample. Admission leaves 1% of the blocks free for the live
  sequences to grow into (vLLM's watermark), except that an empty batch always takes the
  first waiting prompt. Longest requests first (LPT scheduling, Graham 1969): a long request
  admitted last would decode alone at the end, with the batch nearly empty.
- Growth: a sequence whose next position starts a block gets one before the decode step.
  When none is free, the sequence admitted last is preempted: its blocks are freed and it
  waits first in line, to be prefilled again from its tokens (recomputation) and continue
  where it stopped.
- Branches (the thinking-budget sweep): a branch reads its parent's cached positions by
  reference, its partly filled last block copied; without a free row and block it waits,
  first in line, to be recomputed.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from reasoning.generation.blocks import BlockAllocator
from reasoning.generation.request import FINISH_LENGTH, Request

Copy = tuple[int, int]  # (source, target) block: the target gets the source's keys and values


@dataclass(eq=False)
class LiveSequence:
    """A live request: the blocks it reads and how many of its positions they hold."""

    request: Request
    blocks: list[int]
    cached: int


@dataclass
class Waiting:
    """Requests not yet admitted: the samples of one prompt, or one preempted request or branch."""

    tokens: list[int]  # what to prefill: the prompt, or a resumed request's prompt and tokens but the last
    requests: deque[Request]
    resumed: bool = False  # has tokens: its next input is its last token, it samples nothing at admission


@dataclass
class Prefill:
    """One prompt to run into `blocks`, and the sequences admitted to read it."""

    tokens: list[int]
    blocks: list[int]  # where the prefill writes; the first sequence starts with exactly these
    sequences: list[LiveSequence]  # the others share the full blocks and hold a copy of the partial last one
    copies: list[Copy]  # the partial last block into each copy, once the prefill has written it
    resumed: bool


@dataclass
class Growth:
    """Block growth before a decode step."""

    grown: list[LiveSequence] = field(default_factory=list)  # each got one new block, its last
    preempted: list[LiveSequence] = field(default_factory=list)  # freed, now waiting to be recomputed


@dataclass
class Branch:
    """A branch admitted at once: its sequence reads the parent's full blocks by reference."""

    sequence: LiveSequence
    copies: list[Copy]  # the parent's partial last block into the branch's own


def group_length(group: Sequence[Request]) -> int:
    """The most positions a sample of this prompt can hold: the prompt and the largest budget."""
    return len(group[0].prompt) + max(request.max_new_tokens for request in group)


def longest_first(groups: Sequence[Sequence[Request]]) -> list[list[Request]]:
    """The groups left to generate, longest first (LPT); requests without a budget finish now."""
    for request in (r for group in groups for r in group if r.max_new_tokens <= 0):
        request.finish_reason = FINISH_LENGTH
    left = [[r for r in group if r.finish_reason is None] for group in groups]
    return sorted((group for group in left if group), key=group_length, reverse=True)


def blocks_needed(prompt_length: int, samples: int, block_size: int) -> int:
    """Blocks that `samples` samples of one prompt take at admission: the prompt's, shared, and
    a copy of its partial last block for each sample but the first."""
    return math.ceil(prompt_length / block_size) + (samples - 1) * (prompt_length % block_size != 0)


class Scheduler:
    """The waiting queue, the blocks and the live sequences of one engine run, and its decisions.

    `running` lists the live sequences in admission order, so the last is the one preempted.
    """

    def __init__(self, num_blocks: int, block_size: int, max_batch_size: int) -> None:
        self.allocator = BlockAllocator(num_blocks)
        self.block_size = block_size
        self.max_batch_size = max_batch_size
        self.watermark = num_blocks // 100  # blocks admission leaves free for growth (vLLM's 1%)
        self.waiting: deque[Waiting] = deque()
        self.running: list[LiveSequence] = []

    @property
    def done(self) -> bool:
        """Nothing waits and nothing is live: the run is over."""
        return not self.waiting and not self.running

    def add(self, group: Sequence[Request]) -> None:
        """Queue the samples of one prompt, to be prefilled once."""
        self.waiting.append(Waiting(group[0].prompt, deque(group)))

    def retire(self) -> list[LiveSequence]:
        """Drop the live sequences whose request finished or was cancelled; their blocks return."""
        finished = [s for s in self.running if s.request.finish_reason is not None]
        for sequence in finished:
            self._release(sequence)
        return finished

    def admit(self) -> list[Prefill]:
        """Admit waiting prompts, in line, while rows and blocks allow, keeping `watermark` blocks
        free unless the batch is empty. Returned new prompts first (their rows get a first token
        from the prefill), then by length: this is also their admission order."""
        prefills: list[Prefill] = []
        rows = self.max_batch_size - len(self.running)
        while self.waiting and rows:
            entry = self.waiting[0]
            pending = [r for r in entry.requests if r.finish_reason is None]  # not cancelled
            reserve = self.watermark if self.running or prefills else 0
            take = min(len(pending), rows)
            while take and blocks_needed(len(entry.tokens), take, self.block_size) + reserve > self.allocator.free:
                take -= 1
            if pending and not take:
                break
            if take:
                prefills.append(self._prefill(entry, pending[:take]))
                rows -= take
            entry.requests = deque(pending[take:])
            if not entry.requests:
                self.waiting.popleft()
        prefills.sort(key=lambda prefill: (prefill.resumed, len(prefill.tokens)))
        self.running += [sequence for prefill in prefills for sequence in prefill.sequences]
        return prefills

    def grow(self) -> Growth:
        """A new block for each sequence whose next position starts one, earliest admitted first;
        while none is free, the latest admitted is preempted. The victim is never an earlier
        sequence than the one growing, so no sequence that grew is preempted after."""
        growth = Growth()
        for sequence in [s for s in self.running if s.cached == len(s.blocks) * self.block_size]:
            while not self.allocator.free and sequence in self.running:
                growth.preempted.append(self._preempt())
            if sequence in self.running:
                sequence.blocks.append(self.allocator.take())
                growth.grown.append(sequence)
        return growth

    def advance(self) -> None:
        """A decode step cached one more position of every live sequence."""
        for sequence in self.running:
            sequence.cached += 1

    def branch(self, parent: LiveSequence, request: Request) -> Branch | None:
        """Start `request`, a branch of `parent` at its current position, reading the parent's full
        blocks by reference with the partial last one copied; None when no row or block is free:
        it then waits first in line, to be recomputed."""
        full, partial = divmod(parent.cached, self.block_size)
        if len(self.running) >= self.max_batch_size or self.allocator.free < (partial != 0):
            self.waiting.appendleft(_resumed(request))
            return None
        self.allocator.share(parent.blocks[:full])
        blocks = parent.blocks[:full] + ([self.allocator.take()] if partial else [])
        sequence = LiveSequence(request, blocks, parent.cached)
        self.running.append(sequence)
        return Branch(sequence, [(parent.blocks[full], blocks[full])] if partial else [])

    def _prefill(self, entry: Waiting, requests: list[Request]) -> Prefill:
        """Blocks for one prompt and its samples: the first holds the prompt's, the others share
        its full blocks and take a copy of its partial last block."""
        length = len(entry.tokens)
        blocks = [self.allocator.take() for _ in range(math.ceil(length / self.block_size))]
        full = length // self.block_size
        sequences, copies = [LiveSequence(requests[0], list(blocks), length)], []
        for request in requests[1:]:
            self.allocator.share(blocks[:full])
            own = blocks[:full] + [self.allocator.take() for _ in blocks[full:]]
            copies += zip(blocks[full:], own[full:])
            sequences.append(LiveSequence(request, own, length))
        return Prefill(entry.tokens, blocks, sequences, copies, entry.resumed)

    def _preempt(self) -> LiveSequence:
        """Free the latest admitted sequence; its request waits first in line, to be recomputed."""
        sequence = self.running[-1]
        self._release(sequence)
        self.waiting.appendleft(_resumed(sequence.request))
        return sequence

    def _release(self, sequence: LiveSequence) -> None:
        self.allocator.release(sequence.blocks)
        self.running.remove(sequence)


def _resumed(request: Request) -> Waiting:
    """A request with tokens, waiting to be prefilled again (its last token is its next input)."""
    return Waiting(request.prompt + request.tokens[:-1], deque([request]), resumed=True)
