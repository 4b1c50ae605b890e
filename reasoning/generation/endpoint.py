"""An OpenAI-compatible endpoint named as a model: `--model openai:http://HOST:PORT/v1`.

`Endpoint` is what `generate`, `generate_as_completed` and `budget_sweep` accept in place of a
model (the client that talks to it is `remote.py`). This file holds the name's parsing, the
command-line flags and the refusals of what cannot run remotely; no torch and no openai here,
so the parser is built without either.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from urllib.parse import urlparse

from reasoning.flags import positive_float, positive_int

PREFIX = "openai:"
APIS = ("completions", "chat")
DEFAULT_KEY_VARIABLE = "OPENAI_API_KEY"


@dataclass(frozen=True)
class Endpoint:
    """A model served behind the OpenAI API: where it is, the name it is served under, the API
    the prompts go through ("completions": the prompt text as an in-process run feeds it;
    "chat": messages), requests in flight at once, seconds per request, its key, and how many
    times a request that failed for a passing reason (429, 5xx, connection, timeout) is retried."""

    base_url: str
    served_model: str
    api: str = "completions"
    concurrency: int = 16
    timeout: float = 600.0
    api_key: str | None = field(default=None, repr=False)
    retries: int = 4
    fingerprint: str | None = None  # the served weights' hash where the server shows one (`reasoning serve` does)

    def __post_init__(self) -> None:
        if self.api not in APIS:
            raise ValueError(f"unknown endpoint API {self.api!r}; choose one of {', '.join(APIS)}")
        if self.concurrency < 1 or self.timeout <= 0 or self.retries < 0:
            raise ValueError("an endpoint needs concurrency >= 1, timeout > 0 and retries >= 0")

    @property
    def name(self) -> str:
        """The endpoint as the command line names it (the run's model in its settings)."""
        return PREFIX + self.base_url


def is_endpoint_name(name: str) -> bool:
    """Whether a --model value names an endpoint (`openai:URL`) rather than a local model."""
    return str(name).startswith(PREFIX)


def parse_base_url(name: str) -> str:
    """The base URL of `openai:URL`; ValueError unless it is an http(s) URL with a host."""
    url = name.removeprefix(PREFIX).strip().rstrip("/")
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--model {name!r}: an endpoint is written openai:http://HOST:PORT/v1 (an http or https base URL)")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError(f"--model {name!r}: the port is not a number") from None
    return url


def add_endpoint_flags(parser: argparse.ArgumentParser) -> None:
    """The flags that go with `--model openai:URL`."""
    group = parser.add_argument_group("a model served behind the OpenAI API (--model openai:http://HOST:PORT/v1)")
    group.add_argument("--served-model",
                       help="the name the server knows the model by; also where its tokenizer and chat template come from "
                            "(a hub id or a local directory; tokenizer files only)")  # fmt: skip
    group.add_argument("--api-key-env", default=DEFAULT_KEY_VARIABLE, help="the environment variable holding the API key")
    group.add_argument("--concurrency", type=positive_int, default=16, help="requests in flight at once")
    group.add_argument("--request-timeout", type=positive_float, default=600.0, help="seconds one request may take")
    group.add_argument("--endpoint-api", default="completions", choices=APIS,
                       help="completions: the prompt text exactly as an in-process run feeds it; chat: messages, the "
                            "reply rebuilt from reasoning_content and content")  # fmt: skip


def endpoint_from_args(args: argparse.Namespace, flag: str = "model") -> Endpoint | None:
    """The endpoint `--model` (or `--teacher`) names, or None for a local model."""
    name = getattr(args, flag)
    if not is_endpoint_name(name):
        return None
    base_url = parse_base_url(name)
    if not args.served_model:
        raise ValueError(f"--{flag} {name} needs --served-model NAME: the model's name on the server (a hub id or local directory)")
    return Endpoint(
        base_url, args.served_model, api=args.endpoint_api, concurrency=args.concurrency, timeout=args.request_timeout,
        api_key=os.environ.get(args.api_key_env),
    )  # fmt: skip


def refuse_remote(what: str) -> None:
    """Refuse, in one line, what needs the model's weights or log-probs in this process."""
    raise ValueError(f"{what} needs the model in this process (its log-probs or weights); an openai: endpoint cannot run it")


def check_remote_run(
    *, scoring: str = "generate", strategy: str = "independent", scorer: str = "logprob", tie_break: str = "first"
) -> None:
    """Refuse, before anything runs, an evaluation an endpoint cannot serve: letter likelihoods,
    and the strategies' log-prob scorer and tie-break (the OpenAI API returns text)."""
    if scoring == "loglik":
        refuse_remote("--scoring loglik")
    if strategy in ("best-of-n", "self-refine") and scorer == "logprob":
        refuse_remote(f"--strategy {strategy} with --scorer logprob (the default; --scorer heuristic or judge run remotely)")
    if strategy == "self-consistency" and tie_break == "logprob":
        refuse_remote("--tie-break logprob")
