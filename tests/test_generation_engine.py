"""The paged KV cache: blocks, sharing, preemption and a decode step without host syncs.

The reference for every output is the engine with memory to spare: the same requests must
give the same tokens and log-probs when the pool is small enough to force preemption, when
samples share their prompt's blocks, and through the compiled step. REASONING_TEST_DEVICE=cuda
runs them on a GPU (evals/gpu_check.sh does).
"""

from __future__ import annotations

import os

import pytest
import torch

from reasoning.generation.blocks import BlockAllocator
from reasoning.generation.decode import decode_step
from reasoning.generation.engine import Engine
from reasoning.generation.request import Request
from reasoning.generation.sampling import SamplingParams, request_key
from reasoning.model.paged import SINK_BLOCK, BlockPool, PagedKV
from reasoning.model.qwen3 import Qwen3Model
from tests.test_generation import TINY, greedy_without_cache, large_random_model, random_prompts

SAMPLED = SamplingParams(temperature=0.8, top_k=50, top_p=0.9)
DEVICE = torch.device(os.environ.get("REASONING_TEST_DEVICE", "cpu"))


@pytest.fixture(scope="module")
def model() -> Qwen3Model:
    return large_random_model().to(DEVICE)


def groups_of(prompts: list[list[int]], budgets: list[int], n: int = 1) -> list[list[Request]]:
    return [
        [Request(prompt, budget, request_key(7, index, sample)) for sample in range(n)]
        for index, (prompt, budget) in enumerate(zip(prompts, budgets))
    ]  # fmt: skip


def run(engine: Engine, groups: list[list[Request]], params: SamplingParams) -> list[tuple]:
    list(engine.run(groups, params))
    return [(tuple(r.tokens), r.finish_reason) for g in groups for r in g]


def same_logprobs(a: list[list[Request]], b: list[list[Request]]) -> bool:
    """Equal up to float32 rounding: recomputed keys come from a prefill, not from decode steps."""
    first, second = ([torch.tensor(r.logprobs + r.sampling_logprobs) for g in x for r in g] for x in (a, b))
    return all(torch.allclose(x, y, atol=1e-4, rtol=0) for x, y in zip(first, second))


PROMPTS = random_prompts([3, 17, 8, 1, 12, 5, 9, 30])
BUDGETS = [40, 7, 60, 25, 3, 50, 33, 45]


def test_block_allocator_counts_readers():
    blocks = BlockAllocator(5)
    assert blocks.free == 4 and blocks.used == 0
    taken = [blocks.take() for _ in range(3)]
    assert SINK_BLOCK not in taken and len(set(taken)) == 3
    blocks.share(taken[:2])
    blocks.release(taken)
    assert blocks.free == 2  # the shared two still have a reader
    blocks.release(taken[:2])
    assert blocks.free == 4
    with pytest.raises(RuntimeError, match="released more often"):
        blocks.release(taken[:1])
    [blocks.take() for _ in range(4)]
    with pytest.raises(RuntimeError, match="no free"):
        blocks.take()


def test_paged_view_writes_and_reads_positions_in_order():
    pool = BlockPool.allocate(TINY, num_blocks=6, block_size=4)
    tables = torch.tensor([[3, 1, 0], [2, 5, 4]])
    lengths = torch.tensor([0, 0])
    keys = torch.randn(2, TINY.num_kv_heads, 10, TINY.head_dim)
    view = PagedKV(pool, tables, lengths, fresh=True)
    positions = torch.arange(10).expand(2, -1)
    view.write(0, keys[:, :, :10], keys[:, :, :10], positions[:, :10], 10)
    new = torch.randn(2, TINY.num_kv_heads, 1, TINY.head_dim)
    read, _ = PagedKV(pool, tables, lengths + 10).write(0, new, new, positions[:, :1] + 10, 12)
    assert torch.equal(read[1, :, :10], keys[1]) and torch.equal(read[1, :, 10:11], new[1])  # row 1: blocks 2, 5, 4
    assert torch.equal(read[0, :, :8], keys[0, :, :8])  # row 0: blocks 3, 1, then the sink
    assert torch.equal(pool.keys[0, 1], keys[0, :, 4:8].transpose(0, 1))


def test_greedy_paged_engine_equals_a_full_recomputation(model):
    groups = groups_of(PROMPTS, BUDGETS)
    outputs = run(Engine(model, max_batch_size=3, block_size=4), groups, SamplingParams())
    reference = model.cpu()
    try:
        assert [list(tokens) for tokens, _ in outputs] == [greedy_without_cache(reference, p, b) for p, b in zip(PROMPTS, BUDGETS)]
    finally:
        model.to(DEVICE)


@pytest.mark.parametrize("params", [SamplingParams(), SAMPLED], ids=["greedy", "sampled"])
def test_preemption_changes_nothing(model, params):
    """A pool of 7 blocks of 4 tokens holds about one long sequence: most steps preempt one,
    and the recomputed sequences continue exactly as they would have."""
    roomy, tight = groups_of(PROMPTS, BUDGETS, n=2), groups_of(PROMPTS, BUDGETS, n=2)
    engine = Engine(model, max_batch_size=8, block_size=4, max_cache_tokens=4 * 23)
    assert run(engine, tight, params) == run(Engine(model, max_batch_size=8, block_size=4), roomy, params)
    assert engine.stats.preemptions > 10
    assert max(engine.stats.blocks) <= 23
    assert same_logprobs(tight, roomy)


def test_samples_share_their_prompts_full_blocks(model):
    """8 samples of a 30-token prompt (7 full blocks of 4 and a partial one) take 7 + 8 blocks
    at admission, not 8 x 8."""
    engine = Engine(model, max_batch_size=8, block_size=4)
    groups = groups_of(PROMPTS[-1:], [1], n=8)
    list(engine.run(groups, SAMPLED))
    assert engine.stats.blocks == []  # one token each: sampled from the prefill, no decode step
    groups = groups_of(PROMPTS[-1:], [2], n=8)
    list(engine.run(groups, SAMPLED))
    assert engine.stats.blocks == [7 + 8]  # the second token's position (31) is in the copied block
    alone = [run(Engine(model, block_size=4), [[Request(PROMPTS[-1], 2, g.key)]], SAMPLED)[0] for g in groups[0]]
    assert run(Engine(model, max_batch_size=8, block_size=4), groups_of(PROMPTS[-1:], [2], n=8), SAMPLED) == alone


def test_live_sequences_follow_the_tokens_held(model):
    """Under a budget of two full-length rows, sequences that stop early let many more decode at once."""
    budgets = [200] + [6] * 15
    prompts = random_prompts([4] * 16, seed=3)
    longest = 4 + 200
    engine = Engine(model, max_batch_size=16, block_size=4, max_cache_tokens=2 * longest)
    outputs = run(engine, groups_of(prompts, budgets), SamplingParams())
    assert max(engine.stats.live) == 16
    assert engine.stats.preemptions == 0
    assert outputs == run(Engine(model, max_batch_size=16, block_size=4), groups_of(prompts, budgets), SamplingParams())


def test_a_request_cancelled_between_steps_gets_no_more_tokens(model):
    """Cancelled after the step that gave it its first token (the prefill's), a request is never
    decoded again; the others generate what they would have without it."""
    groups = groups_of(PROMPTS[:3], [10, 10, 10])
    steps = Engine(model, block_size=4).run(groups, SamplingParams())
    assert next(steps) == [g[0] for g in sorted(groups, key=lambda g: len(g[0].prompt))]  # new prompts, shortest first
    groups[1][0].cancel()
    list(steps)
    assert len(groups[1][0].tokens) == 1 and groups[1][0].finish_reason == "cancelled"
    others = [(tuple(g[0].tokens), g[0].finish_reason) for g in groups[:1] + groups[2:]]
    alone = groups_of(PROMPTS[:3], [10, 10, 10])
    assert run(Engine(model, block_size=4), alone[:1] + alone[2:], SamplingParams()) == others


def test_a_request_longer_than_the_pool_is_refused(model):
    with pytest.raises(ValueError, match="cannot hold one request of 43 tokens"):
        list(Engine(model, max_cache_tokens=32).run([[Request(PROMPTS[0], 40)]], SamplingParams()))


@pytest.mark.parametrize("params", [SamplingParams(), SAMPLED], ids=["greedy", "sampled"])
def test_decode_step_is_one_graph(model, params):
    """Forward, sampling and cache writes trace into one graph: no host sync breaks it."""
    pool = BlockPool.allocate(TINY, num_blocks=8, block_size=4, device=DEVICE)
    tables = torch.tensor([[1, 2], [3, 4], [5, 0]], device=DEVICE)
    rows = torch.arange(3, device=DEVICE)
    tokens, lengths = torch.tensor([5, 6, 7], device=DEVICE), torch.tensor([5, 7, 2], device=DEVICE)
    explanation = torch._dynamo.explain(decode_step)(model, pool, tokens, lengths, tables, rows * 11, rows, rows - 1, params)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1


@pytest.mark.slow
def test_compiled_step_equals_eager_under_preemption(model):
    """The compiled step (CUDA graphs on a GPU) gives the eager step's tokens, with rows coming
    and going, n samples and preemption (sampled: greedy compiled decoding is checked in
    tests/test_generation.py, and each compile of another graph costs ~10 s on this CPU)."""
    params = SAMPLED
    eager = run(Engine(model, max_batch_size=8, block_size=4, max_cache_tokens=4 * 23, compile=False), groups_of(PROMPTS, BUDGETS, n=2), params)
    engine = Engine(model, max_batch_size=8, block_size=4, max_cache_tokens=4 * 23, compile=True)
    assert run(engine, groups_of(PROMPTS, BUDGETS, n=2), params) == eager
    assert engine.stats.preemptions > 10


def test_a_cpu_decodes_eagerly_however_long_the_run_unless_compile_is_asked(model):
    """On a CPU the eager step on prepacked weights is the fast one: compile=None never pays
    minutes of compiling there, whatever the run's length; CUDA runs that long still compile."""
    from reasoning.generation.decode import CompiledStep
    from reasoning.generation.engine import COMPILE_MIN_STEPS

    assert not isinstance(Engine(model)._decoder(4 * COMPILE_MIN_STEPS), CompiledStep)
    assert isinstance(Engine(model, compile=True)._decoder(1), CompiledStep)
