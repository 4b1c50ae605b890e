"""Bad inputs with an OpenAI-compatible endpoint as the model (`--model openai:URL`), rows of
error_table: each refused in one line before any request, weights or records."""

from __future__ import annotations

from pathlib import Path

from conftest import free_port
from error_table import ErrorCase
from errors_evaluation import no_loading, nothing_written

BENCHMARKS = Path(__file__).parent / "data" / "benchmarks"


def closed_port(tmp: Path, monkeypatch) -> dict:
    """A data file and a local URL where nothing listens."""
    return {**no_loading(tmp, monkeypatch), "url": f"http://127.0.0.1:{free_port()}/v1"}


EVAL = ("eval", "run", "--bench", "math500", "--data", "{data}", "--out", "{run}")

CASES = [
    ErrorCase("remote-unreachable-url", (*EVAL, "--model", "openai:{url}", "--served-model", "m"),
              ("cannot reach {url}",), closed_port, nothing_written),
    ErrorCase("remote-without-served-model", (*EVAL, "--model", "openai:http://127.0.0.1:8000/v1"),
              ("needs --served-model NAME",), no_loading, nothing_written),
    ErrorCase("remote-malformed-spec", (*EVAL, "--model", "openai:localhost:8000", "--served-model", "m"),
              ("an endpoint is written openai:http://HOST:PORT/v1",), no_loading, nothing_written),
    ErrorCase("remote-bad-port", (*EVAL, "--model", "openai:http://127.0.0.1:port/v1", "--served-model", "m"),
              ("the port is not a number",), no_loading, nothing_written),
    ErrorCase("remote-loglik-scoring",
              ("eval", "run", "--bench", "mmlu-stem", "--data-dir", str(BENCHMARKS), "--out", "{run}", "--scoring", "loglik",
               "--model", "openai:http://127.0.0.1:8000/v1", "--served-model", "m"),
              ("--scoring loglik needs the model in this process",), no_loading, nothing_written),
    ErrorCase("remote-logprob-scorer", (*EVAL, "--model", "openai:http://127.0.0.1:8000/v1", "--served-model", "m",
                                        "--strategy", "best-of-n", "--protocol", "r1", "--n", "2"),
              ("--scorer logprob (the default; --scorer heuristic or judge run remotely)",), no_loading, nothing_written),
    ErrorCase("distill-remote-without-served-model",
              ("distill", "generate", "--teacher", "openai:http://127.0.0.1:8000/v1", "--bench", "math500", "--data", "{data}",
               "--out", "{tmp}/traces.jsonl"),
              ("--teacher openai:http://127.0.0.1:8000/v1 needs --served-model NAME",), no_loading),
    ErrorCase("grpo-with-an-endpoint",
              ("train", "grpo", "--model", "openai:http://127.0.0.1:8000/v1", "--bench", "math500", "--data", "{data}",
               "--out", "{tmp}/grpo"),
              ("GRPO training needs the model in this process",), no_loading),
    ErrorCase("sft-with-an-endpoint",
              ("train", "sft", "--model", "openai:http://127.0.0.1:8000/v1", "--bench", "math500", "--data-dir", str(BENCHMARKS),
               "--out", "{tmp}/sft"),
              ("SFT training needs the model in this process",), no_loading),
]  # fmt: skip
