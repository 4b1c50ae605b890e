"""The scheduler's decisions, with no model: admission, shared blocks, the watermark, growth,
preemption, branches and retiring, on small pools of blocks of 4 positions.

Tokens are made up: the scheduler reads only how many a request has, so `sample` and `step`
play the engine's part (a first token after admission, one more per decode step).
"""

from __future__ import annotations

import subprocess
import sys
from collections import deque

from reasoning.generation.request import FINISH_LENGTH, Request
from reasoning.generation.scheduler import LiveSequence, Scheduler, Waiting, longest_first

SIZE = 4  # positions per block


def group(length: int, samples: int = 1, budget: int = 100) -> list[Request]:
    """`samples` requests for one prompt of `length` tokens."""
    prompt = list(range(1, length + 1))
    return [Request(prompt, budget, key=sample) for sample in range(samples)]


def scheduler_with(*groups: list[Request], num_blocks: int, max_batch_size: int = 8) -> Scheduler:
    scheduler = Scheduler(num_blocks, SIZE, max_batch_size)
    for requests in groups:
        scheduler.add(requests)
    return scheduler


def sample(sequences: list[LiveSequence]) -> None:
    """What the engine does after a prefill: each new request gets its first token."""
    for sequence in sequences:
        sequence.request.tokens.append(7)


def step(scheduler: Scheduler):
    """A decode step: blocks grow (or sequences are preempted), then every live row caches its
    next input and gets a token."""
    growth = scheduler.grow()
    scheduler.advance()
    sample(scheduler.running)
    return growth


def admitted(scheduler: Scheduler) -> list[LiveSequence]:
    """Admit and sample the first tokens: the sequences admitted, in admission order."""
    sequences = [sequence for prefill in scheduler.admit() for sequence in prefill.sequences]
    sample(sequences)
    return sequences


def finish(*sequences: LiveSequence) -> None:
    for sequence in sequences:
        sequence.request.finish_reason = FINISH_LENGTH


def test_samples_share_the_prompts_full_blocks_and_copy_its_partial_last_one():
    scheduler = scheduler_with(group(10, samples=3), num_blocks=20)
    [prefill] = scheduler.admit()
    first, second, third = prefill.sequences
    assert prefill.tokens == list(range(1, 11)) and len(prefill.blocks) == 3 and not prefill.resumed
    assert first.blocks == prefill.blocks
    assert second.blocks[:2] == third.blocks[:2] == prefill.blocks[:2]  # the full blocks, by reference
    assert len({prefill.blocks[2], second.blocks[2], third.blocks[2]}) == 3
    assert prefill.copies == [(prefill.blocks[2], second.blocks[2]), (prefill.blocks[2], third.blocks[2])]
    assert [s.cached for s in prefill.sequences] == [10, 10, 10]
    assert scheduler.allocator.used == 3 + 2
    assert scheduler.running == prefill.sequences and not scheduler.waiting


def test_retiring_returns_a_block_when_its_last_reader_leaves():
    """A prompt of whole blocks is shared without copies; its blocks stay until every sample ends."""
    scheduler = scheduler_with(group(8, samples=3), num_blocks=20)
    [prefill] = scheduler.admit()
    assert prefill.copies == [] and all(s.blocks == prefill.blocks for s in prefill.sequences)
    assert scheduler.allocator.used == 2
    prefill.sequences[0].request.cancel()
    finish(prefill.sequences[1])
    assert scheduler.retire() == prefill.sequences[:2]
    assert scheduler.running == prefill.sequences[2:] and scheduler.allocator.used == 2
    finish(prefill.sequences[2])
    assert scheduler.retire() == prefill.sequences[2:]
    assert scheduler.allocator.used == 0 and scheduler.done


def test_admission_is_bounded_by_free_rows():
    requests = group(5, samples=5)
    scheduler = scheduler_with(requests, group(3), num_blocks=50, max_batch_size=3)
    first = admitted(scheduler)
    assert [s.request for s in first] == requests[:3]
    assert list(scheduler.waiting[0].requests) == requests[3:] and len(scheduler.waiting) == 2
    assert scheduler.admit() == []
    finish(first[1])
    scheduler.retire()
    [prefill] = scheduler.admit()
    assert [s.request for s in prefill.sequences] == requests[3:4]


def test_admission_is_bounded_by_free_blocks_and_keeps_the_line():
    """7 free blocks hold a 10-token prompt (3 blocks) and 4 more samples (a copied block each);
    the sixth sample and the prompt behind it wait."""
    requests = group(10, samples=6)
    scheduler = scheduler_with(requests, group(1), num_blocks=8)
    [prefill] = scheduler.admit()
    assert [s.request for s in prefill.sequences] == requests[:5]
    assert scheduler.allocator.free == 0
    assert list(scheduler.waiting[0].requests) == requests[5:] and len(scheduler.waiting) == 2


def test_the_watermark_holds_back_admission_except_for_an_empty_batch():
    """101 blocks (100 free, the sink aside) keep 1 free for growth while any sequence is live."""
    scheduler = scheduler_with(group(4 * 99), group(4), num_blocks=101)
    assert scheduler.watermark == 1
    assert [p.tokens for p in scheduler.admit()] == [list(range(1, 4 * 99 + 1))]  # the second would leave none free
    assert scheduler.allocator.free == 1 and len(scheduler.waiting) == 1
    assert scheduler.admit() == []  # still held back, now by the live sequence
    finish(*scheduler.running)
    scheduler.retire()
    assert [p.tokens for p in scheduler.admit()] == [[1, 2, 3, 4]]
    alone = scheduler_with(group(4 * 100), num_blocks=101)
    assert len(alone.admit()) == 1 and alone.allocator.free == 0  # an empty batch takes every block


def test_cancelled_waiting_requests_are_never_admitted():
    requests, gone = group(6, samples=3), group(2, samples=2)
    scheduler = scheduler_with(gone, requests, num_blocks=20)
    requests[1].cancel()
    for request in gone:
        request.cancel()
    [prefill] = scheduler.admit()
    assert [s.request for s in prefill.sequences] == [requests[0], requests[2]]
    assert not scheduler.waiting


def test_growth_gives_a_block_where_the_next_position_starts_one():
    inside, at_boundary = group(6), group(4)
    scheduler = scheduler_with(inside, at_boundary, num_blocks=20)
    first, second = admitted(scheduler)  # new prompts are admitted shortest first
    assert (first.request, second.request) == (at_boundary[0], inside[0])
    growth = step(scheduler)
    assert growth.grown == [first] and growth.preempted == [] and len(first.blocks) == 2 and len(second.blocks) == 2
    assert (first.cached, second.cached) == (5, 7)
    assert step(scheduler).grown == []
    assert step(scheduler).grown == [second]  # position 8 starts its third block
    assert len(second.blocks) == 3 and scheduler.allocator.used == 5


def test_growth_preempts_the_latest_admitted_when_no_block_is_free():
    """Two sequences of 8 positions fill the 4 free blocks; at position 8 each needs a third: the
    later one is freed and waits first in line, to be prefilled again from its prompt and its
    tokens but the last."""
    scheduler = scheduler_with(group(3), group(3), group(2), num_blocks=5, max_batch_size=2)
    first, second = admitted(scheduler)
    while first.cached < 8:
        assert step(scheduler).preempted == []
    assert scheduler.allocator.free == 0
    growth = step(scheduler)
    assert growth.preempted == [second] and growth.grown == [first] and scheduler.running == [first]
    assert scheduler.waiting[0] == Waiting([1, 2, 3] + second.request.tokens[:-1], deque([second.request]), resumed=True)
    resumed = scheduler.waiting[0].tokens
    assert len(resumed) == second.cached == 8
    assert scheduler.allocator.free == 1  # its two blocks back, one taken by the first
    assert scheduler.admit() == []  # it needs two blocks, and the prompt behind it waits its turn
    finish(first)
    scheduler.retire()
    new, recomputed = scheduler.admit()  # new prompts first: their rows get a first token
    assert (new.tokens, new.resumed, recomputed.tokens, recomputed.resumed) == ([1, 2], False, resumed, True)
    assert recomputed.sequences[0].request is second.request and recomputed.sequences[0].cached == 8
    assert scheduler.running == new.sequences + recomputed.sequences


def test_growth_preempts_until_a_block_is_free():
    """Three samples share a prompt of one full block: preempting the last frees nothing, so the
    second is preempted too; the first keeps growing."""
    scheduler = scheduler_with(group(4, samples=3), num_blocks=3)
    first, second, third = admitted(scheduler)
    growth = step(scheduler)
    assert growth.grown == [first] and growth.preempted == [third, second]
    assert [w.requests[0] for w in scheduler.waiting] == [second.request, third.request]  # the last preempted first
    assert scheduler.allocator.used == 2


def test_a_branch_reads_its_parents_full_blocks_and_copies_the_partial_one():
    scheduler = scheduler_with(group(9), num_blocks=20, max_batch_size=2)
    [parent] = admitted(scheduler)
    step(scheduler)  # 10 positions cached: two full blocks and part of a third
    request = Request(parent.request.prompt, 100, tokens=list(parent.request.tokens))
    branch = scheduler.branch(parent, request)
    assert branch.sequence.request is request and branch.sequence.cached == 10
    assert branch.sequence.blocks[:2] == parent.blocks[:2] and branch.sequence.blocks[2] not in parent.blocks
    assert branch.copies == [(parent.blocks[2], branch.sequence.blocks[2])]
    assert scheduler.running == [parent, branch.sequence] and scheduler.allocator.used == 4
    finish(parent)
    scheduler.retire()
    assert scheduler.allocator.used == 3  # the full blocks stay while the branch reads them


def test_a_branch_at_a_block_boundary_needs_no_free_block():
    scheduler = scheduler_with(group(8), num_blocks=3)
    [parent] = admitted(scheduler)
    branch = scheduler.branch(parent, Request(parent.request.prompt, 100, tokens=list(parent.request.tokens)))
    assert branch.sequence.blocks == parent.blocks and branch.copies == []
    assert scheduler.allocator.free == 0


def test_a_branch_waits_without_a_free_row_or_block():
    for num_blocks, max_batch_size in ((20, 1), (4, 2)):  # no row; no block for the partial copy
        scheduler = scheduler_with(group(10), group(3), num_blocks=num_blocks, max_batch_size=max_batch_size)
        [parent] = admitted(scheduler)  # the second prompt waits: no row, or no block
        request = Request(parent.request.prompt, 100, tokens=[5, 6])
        used = scheduler.allocator.used
        assert scheduler.branch(parent, request) is None
        assert scheduler.waiting[0] == Waiting(parent.request.prompt + [5], deque([request]), resumed=True)  # first in line
        assert len(scheduler.waiting) == 2
        assert scheduler.running == [parent] and scheduler.allocator.used == used


def test_longest_first_orders_by_prompt_and_budget_and_finishes_empty_budgets():
    short, long, empty = group(3, budget=5), group(1, samples=2, budget=20), group(2, budget=0)
    long[1].max_new_tokens = 0
    assert longest_first([short, long, empty]) == [long[:1], short]
    assert (long[1].finish_reason, empty[0].finish_reason) == (FINISH_LENGTH, FINISH_LENGTH)
    assert short[0].finish_reason is None and long[1].tokens == []


def test_the_scheduler_imports_no_torch():
    code = "import sys, reasoning.generation.scheduler; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
