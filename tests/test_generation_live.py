"""The live engine: jobs that arrive at any time, each with its own sampling, join one running batch
and get exactly what `generate` gives them alone; cancelled jobs leave at once."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from reasoning.generation import generate
from reasoning.generation.live import LiveEngine, Overloaded
from reasoning.generation.options import GenerationConfig, SamplingParams
from reasoning.generation.sampling import Penalties, choose_tokens, row_sampling
from reasoning.model.qwen3 import Qwen3Model
from tests import scripted

CONFIGS = [
    GenerationConfig(max_new_tokens=12),
    GenerationConfig(max_new_tokens=9, temperature=0.7, top_p=0.9, top_k=50, seed=3, n=2),
    GenerationConfig(max_new_tokens=15, temperature=1.2, min_p=0.05, presence_penalty=0.5, seed=4),
    GenerationConfig(max_new_tokens=7, temperature=0.6, frequency_penalty=1.0, stop=("a",), seed=5, n=3),
]


@pytest.fixture(scope="module")
def model_and_tokenizer():
    torch.manual_seed(0)
    model = Qwen3Model(scripted.CONFIG).float().eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.5)
    return model, scripted.tokenizer()


def test_rows_with_their_own_sampling_choose_what_each_would_alone():
    """Bit for bit: a batch mixing greedy and sampled rows with different filters and penalties."""
    generator = torch.Generator().manual_seed(0)
    vocab = 3000
    params = [
        SamplingParams(), SamplingParams(0.7, 20, 0.9), SamplingParams(1.3, 0, 0.5, 0.05), SamplingParams(0.6, 1),
        SamplingParams(1.0, vocab, 1.0, 0.1, 0.5, 0.2), SamplingParams(0.3, 100, 0.95, 0.0, -1.0, 1.5),
    ]  # fmt: skip
    logits = torch.randn(len(params), vocab, generator=generator) * 4
    keys, counters = torch.randint(0, 2**62, (len(params),), generator=generator), torch.arange(len(params))
    counts = torch.randint(0, 3, (len(params), vocab), generator=generator, dtype=torch.int32)
    presence = torch.tensor([p.presence_penalty for p in params])
    frequency = torch.tensor([p.frequency_penalty for p in params])
    mixed = choose_tokens(logits, row_sampling(params, torch.device("cpu"), vocab), keys, counters, Penalties(counts, presence, frequency))
    for row, p in enumerate(params):
        alone = choose_tokens(
            logits[row : row + 1], p, keys[row : row + 1], counters[row : row + 1],
            Penalties(counts[row : row + 1], presence[row : row + 1], frequency[row : row + 1]),
        )  # fmt: skip
        for got, expected in zip(mixed, alone):
            assert torch.equal(got[row : row + 1].float(), expected.float()), (row, p)


def test_jobs_arriving_at_any_time_get_what_generate_gives_them_alone(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    prompts = [tokenizer.encode(text) for text in ("Hello there", "What is 2+2?", "a b c d e f g", "Count: 1, 2,")]
    live = LiveEngine(model, tokenizer, max_batch_size=4, max_cache_tokens=512)
    try:
        jobs = []
        for prompt, config in zip(prompts, CONFIGS):
            jobs.append(live.submit(prompt, config))
            time.sleep(0.01)  # later jobs arrive while earlier ones decode
        for job, prompt, config in zip(jobs, prompts, CONFIGS):
            got = job.wait(timeout=60)
            expected = generate(model, tokenizer, [prompt], config)
            assert [r.token_ids for r in got] == [r.token_ids for r in expected]
            assert [r.text for r in got] == [r.text for r in expected]
            assert [r.finish_reason for r in got] == [r.finish_reason for r in expected]
            assert [x for r in got for x in r.logprobs] == pytest.approx([x for r in expected for x in r.logprobs], abs=1e-5)
            assert [s.text for s in job.samples()] == [r.text for r in expected]
        assert max(live.engine.stats.live) > 1  # they shared steps
    finally:
        live.close()


def test_a_cancelled_job_leaves_at_once_and_the_others_are_unaffected(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    live = LiveEngine(model, tokenizer, max_batch_size=4, max_cache_tokens=1024)
    try:
        started = threading.Event()
        long_job = live.submit(tokenizer.encode("go on"), GenerationConfig(max_new_tokens=900), on_update=lambda job: started.set())
        assert started.wait(30)
        other = live.submit(tokenizer.encode("Hello there"), CONFIGS[1])
        long_job.cancel()
        [result] = long_job.wait(timeout=30)
        assert result.finish_reason == "cancelled" and result.num_tokens < 900
        alone = generate(model, tokenizer, [tokenizer.encode("Hello there")], CONFIGS[1])
        assert [r.token_ids for r in other.wait(timeout=30)] == [r.token_ids for r in alone]
        deadline = time.monotonic() + 10
        while (live.running or live.waiting) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (live.running, live.waiting) == (0, 0)
        assert live.engine.stats.live[-1] <= 2  # the cancelled sequence decoded no more
    finally:
        live.close()


def test_too_many_waiting_jobs_are_refused_and_bad_prompts_named(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    live = LiveEngine(model, tokenizer, max_batch_size=1, max_cache_tokens=1024, max_waiting=1)
    try:
        first = live.submit(tokenizer.encode("one"), GenerationConfig(max_new_tokens=400))
        while not first.samples()[0].token_ids:
            time.sleep(0.01)
        second = live.submit(tokenizer.encode("two"), GenerationConfig(max_new_tokens=5))
        with pytest.raises(Overloaded, match="waiting"):
            live.submit(tokenizer.encode("three"), GenerationConfig(max_new_tokens=5))
        with pytest.raises(ValueError, match="context limit"):
            live.submit([1] * scripted.CONFIG.max_position_embeddings, GenerationConfig())
        with pytest.raises(ValueError, match="vocabulary"):
            live.submit([scripted.CONFIG.vocab_size], GenerationConfig())
        first.cancel()
        assert second.wait(timeout=30)[0].num_tokens == 5
    finally:
        live.close()
