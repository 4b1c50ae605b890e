"""The server under load: 64 concurrent streaming requests through the official client all finish
with what the engine gives each in-process, decoded together (continuous batching across HTTP
requests)."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request

import pytest
import torch

from reasoning.checkpoint import save_pretrained
from reasoning.generation import Prompt, generate
from reasoning.model.qwen3 import Qwen3Model
from tests import scripted
from tests.server_process import start_server

openai = pytest.importorskip("openai")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = Qwen3Model(scripted.CONFIG).float().eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.5)
    tokenizer = scripted.tokenizer()
    directory = save_pretrained(model, tokenizer, tmp_path_factory.mktemp("load") / "tiny")
    return model, tokenizer, directory


def workload(count: int) -> list[tuple[list[int], int]]:
    """Ragged prompts and long-tailed budgets, as a real mix of requests."""
    generator = torch.Generator().manual_seed(1)
    lengths = torch.randint(3, 60, (count,), generator=generator)
    budgets = (torch.randn(count, generator=generator).exp() * 8).round().clamp(1, 40).long()
    return [(torch.randint(0, 150_000, (int(n),), generator=generator).tolist(), int(b)) for n, b in zip(lengths, budgets)]


def test_64_concurrent_streams_complete_correctly_batched_together(checkpoint):
    model, tokenizer, directory = checkpoint
    jobs = workload(64)
    expected = generate(model, tokenizer, [Prompt(ids, budget) for ids, budget in jobs], max_batch_size=16)
    server = start_server(directory, "--max-batch-size", "16", "--dtype", "float32")
    peak, done = [0], threading.Event()

    def watch() -> None:  # the server's own count of sequences decoding in one batch
        while not done.is_set():
            with urllib.request.urlopen(f"{server.root}/health", timeout=5) as response:
                peak[0] = max(peak[0], json.load(response)["running"])

    async def one(client, prompt: list[int], budget: int) -> tuple[str, str | None, int]:
        stream = await client.completions.create(
            model=str(directory), prompt=prompt, max_tokens=budget, temperature=0, stream=True,
            stream_options={"include_usage": True},
        )  # fmt: skip
        pieces, finish, tokens = [], None, 0
        async for chunk in stream:
            for choice in chunk.choices:
                pieces.append(choice.text)
                finish = choice.finish_reason or finish
            tokens = chunk.usage.completion_tokens if chunk.usage else tokens
        return "".join(pieces), finish, tokens

    async def everything() -> list[tuple[str, str | None, int]]:
        client = openai.AsyncOpenAI(base_url=server.url, api_key="none", max_retries=0, timeout=300)
        return await asyncio.gather(*(one(client, prompt, budget) for prompt, budget in jobs))

    watcher = threading.Thread(target=watch, daemon=True)
    try:
        watcher.start()
        answers = asyncio.run(everything())
    finally:
        done.set()
        server.stop()
    assert [text for text, _, _ in answers] == [result.text for result in expected]
    assert [tokens for _, _, tokens in answers] == [result.num_tokens for result in expected]
    assert [finish for _, finish, _ in answers] == ["length" if r.finish_reason == "length" else "stop" for r in expected]
    assert peak[0] > 1, "requests from different connections never shared a decode step"
