"""Generation through an OpenAI-compatible endpoint: `generate_as_completed` and `budget_sweep`
with an `Endpoint` in place of the model (api.py dispatches here).

The official `openai` client (async) runs on an event loop of its own, in a thread, so the
callers' iterators keep their shape. Each sample is one request (n = 1) with a seed derived
from (seed, the prompt's stream, the sample), so a resumed run asks what an uninterrupted one
asked, whatever the server does with n. Requests in flight are bounded (`concurrency`); one
that fails for a passing reason (429, 5xx, a connection error or timeout) is retried with
exponential backoff and jitter, and one that still fails is a failed sample (finish_reason
"error", its message in `error`), never dropped. A wrong key, a refused permission or an
unknown model stops the whole call in one line: no request could succeed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from reasoning.generation.endpoint import Endpoint
from reasoning.generation.options import DEFAULT_CLOSING, GenerationConfig
from reasoning.generation.results import GenerationResult, Prompt, SweepResult
from reasoning.generation.sampling import request_key
from reasoning.tokenizer import Qwen3Tokenizer

FINISH_ERROR = "error"
_BACKOFF_SECONDS, _BACKOFF_CAP = 0.5, 30.0
_SEED_RANGE = 2**31 - 1  # what every server takes as a seed
_LIST_SECONDS = 30.0  # the first call, which says whether the endpoint answers at all


class EndpointError(ValueError):
    """An endpoint that no request can succeed against (wrong key, unknown model, unreachable)."""


@dataclass(frozen=True)
class _Ask:
    """One request: the sample it makes and what is sent."""

    prompt_index: int
    sample: int
    prompt_ids: tuple[int, ...]
    body: dict[str, Any]


def generate_as_completed(
    endpoint: Endpoint,
    tokenizer: Qwen3Tokenizer | None,
    prompts: str | Sequence[str | Sequence[int] | Prompt],
    config: GenerationConfig,
    *,
    stop_early: Callable[[int, list[GenerationResult]], bool] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> Iterator[list[GenerationResult]]:
    """`api.generate_as_completed` against an endpoint: each prompt's n results as soon as all
    have finished; `stop_early` cancels a prompt's requests still in flight (finish_reason
    "cancelled"), `on_step` hears each finished sample's tokens."""
    groups = _asks(endpoint, tokenizer, prompts, config)
    with _Client(endpoint, tokenizer) as client:
        futures = {client.submit(client.complete(ask, config)): ask for group in groups for ask in group}
        done: list[dict[int, GenerationResult]] = [{} for _ in groups]
        try:
            for future in concurrent.futures.as_completed(futures):
                ask = futures[future]
                got = done[ask.prompt_index]
                if future.cancelled() or ask.sample in got:
                    continue
                got[ask.sample] = result = future.result()  # an EndpointError ends the call here
                if on_step is not None:
                    on_step(result.num_tokens)
                group = groups[ask.prompt_index]
                if len(got) < len(group) and stop_early is not None and stop_early(ask.prompt_index, _in_order(got)):
                    for other in group:
                        if other.sample not in got:
                            got[other.sample] = _cancelled(other, config)
                    for other_future, other in futures.items():
                        if other.prompt_index == ask.prompt_index:
                            other_future.cancel()
                if len(got) == len(group):
                    yield _in_order(got)
        finally:
            for future in futures:
                future.cancel()


def budget_sweep(
    endpoint: Endpoint, tokenizer: Qwen3Tokenizer | None, prompts: str | Sequence[str | Sequence[int] | Prompt], budgets: Sequence[int],
    config: GenerationConfig,
) -> list[SweepResult]:  # fmt: skip
    """`api.budget_sweep` against an endpoint that takes the `thinking_budget` field: one
    request per sample and budget (a server shares no thinking between requests, so each budget
    decodes its own); ordered by prompt, then sample."""
    by_budget: dict[tuple[int, int], dict[int, GenerationResult]] = {}
    for budget in budgets:
        for group in generate_as_completed(endpoint, tokenizer, prompts, config.with_options(thinking_budget=budget)):
            for result in group:
                by_budget.setdefault((result.prompt_index, result.sample_index), {})[budget] = result
    return [
        SweepResult(index, sample, results, sum(r.num_tokens for r in results.values()))
        for (index, sample), results in sorted(by_budget.items())
    ]


def connect(endpoint: Endpoint) -> tuple[Endpoint, Qwen3Tokenizer]:
    """Check, before anything runs, that the endpoint answers and serves `served_model`; the
    endpoint with the served weights' fingerprint where the server shows one, and the tokenizer
    and chat template of `served_model` (a hub id or a local directory: tokenizer files only),
    which build the prompts an in-process run would feed the model."""
    cards = {entry.get("id"): entry for entry in list_models(endpoint)}
    if endpoint.served_model not in cards:
        listed = ", ".join(map(str, cards)) or "none"
        raise EndpointError(f"{endpoint.base_url} does not serve {endpoint.served_model!r} (--served-model); it serves: {listed}")
    fingerprint = cards[endpoint.served_model].get("fingerprint")
    endpoint = dataclasses.replace(endpoint, fingerprint=fingerprint if isinstance(fingerprint, str) else None)
    return endpoint, Qwen3Tokenizer.from_pretrained(endpoint.served_model)


def list_models(endpoint: Endpoint) -> list[dict[str, Any]]:
    """The endpoint's /v1/models entries; EndpointError where it cannot be reached or refuses the key."""
    with _Client(endpoint) as client:
        return client.submit(client.models()).result()


def _in_order(got: dict[int, GenerationResult]) -> list[GenerationResult]:
    return [got[sample] for sample in sorted(got)]


def _asks(
    endpoint: Endpoint, tokenizer: Qwen3Tokenizer | None, prompts: str | Sequence[str | Sequence[int] | Prompt], config: GenerationConfig
) -> list[list[_Ask]]:
    """One group of n requests per prompt, each with its budget and derived seed."""
    if config.wait or config.thinking_closing != DEFAULT_CLOSING:
        raise ValueError("an endpoint takes thinking_budget, min_thinking and answer_budget; not wait or thinking_closing")
    if isinstance(prompts, (str, Prompt)):
        prompts = [prompts]
    seed = random.getrandbits(63) if config.seed is None else config.seed
    groups = []
    for index, prompt in enumerate(prompts):
        stream = prompt.stream if isinstance(prompt, Prompt) and prompt.stream is not None else index
        budget = prompt.max_new_tokens if isinstance(prompt, Prompt) and prompt.max_new_tokens is not None else config.max_new_tokens
        content = prompt.content if isinstance(prompt, Prompt) else prompt
        ids = tuple(tokenizer.encode(content)) if isinstance(content, str) and tokenizer is not None else ()
        if not isinstance(content, str):
            ids = tuple(int(token) for token in content)
            if tokenizer is None and endpoint.api == "chat":
                raise ValueError("token-id prompts through the chat API need a tokenizer to decode them")
            content = tokenizer.decode(ids) if endpoint.api == "chat" else list(ids)
        body = _body(endpoint, content, config, budget)
        groups.append([
            _Ask(index, sample, ids, {**body, "seed": request_key(seed, stream, sample) % _SEED_RANGE})
            for sample in range(config.n)
        ])  # fmt: skip
    return groups


def _body(endpoint: Endpoint, content: str | list[int], config: GenerationConfig, budget: int) -> dict[str, Any]:
    """The request's fields: the prompt (or messages), budget, sampling and the extra fields a
    vLLM-style server reads; fields at their neutral value are left out (plain OpenAI refuses some)."""
    body: dict[str, Any] = {"model": endpoint.served_model, "max_tokens": budget, "temperature": config.temperature}
    extra: dict[str, Any] = {}
    if endpoint.api == "chat":
        messages, thinking = messages_of(str(content))
        body["messages"] = messages
        if thinking is not None:
            extra["chat_template_kwargs"] = {"enable_thinking": thinking}
    else:
        body["prompt"] = content
    optional = {"top_p": (config.top_p, 1.0), "presence_penalty": (config.presence_penalty, 0.0),
                "frequency_penalty": (config.frequency_penalty, 0.0)}  # fmt: skip
    body.update({name: value for name, (value, neutral) in optional.items() if value != neutral})
    if config.stop:
        body["stop"] = list(config.stop)
    extras = {"top_k": (config.top_k, 0), "min_p": (config.min_p, 0.0), "thinking_budget": (config.thinking_budget, None),
              "min_thinking": (config.min_thinking, 0), "answer_budget": (config.answer_budget, None)}  # fmt: skip
    extra.update({name: value for name, (value, neutral) in extras.items() if value != neutral})
    return {**body, "extra_body": extra} if extra else body


def messages_of(prompt: str) -> tuple[list[dict[str, str]], bool | None]:
    """The chat messages a chat-templated (ChatML) prompt was made from, and whether thinking is
    on (False where the template closed an empty <think> block; None: not said). A prompt
    without the template is one user message."""
    turns = prompt.split("<|im_start|>")
    if len(turns) == 1:
        return [{"role": "user", "content": prompt}], None
    *asked, last = turns[1:]
    reply = last.removeprefix("assistant\n")
    if reply == last or reply.strip() not in ("", "<think>\n\n</think>"):
        raise ValueError("the chat API needs a prompt that ends where the assistant's turn begins")
    messages = []
    for turn in asked:
        role, _, content = turn.partition("\n")
        messages.append({"role": role, "content": content.removesuffix("\n").removesuffix("<|im_end|>")})
    return messages, (False if reply.strip() else None)


class _Client:
    """An AsyncOpenAI client on an event loop in its own thread; `submit` runs a coroutine there."""

    def __init__(self, endpoint: Endpoint, tokenizer: Qwen3Tokenizer | None = None) -> None:
        self.endpoint, self.tokenizer = endpoint, tokenizer
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="openai-client", daemon=True)

    def __enter__(self) -> _Client:
        try:
            import openai  # noqa: F401
        except ImportError:
            raise ValueError("an openai: endpoint needs the openai package: pip install 'reasoning[remote]'") from None
        self.thread.start()
        self.submit(self._open()).result()
        return self

    def __exit__(self, *exc: object) -> None:
        self.submit(self._close()).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()

    def submit(self, coroutine: Any) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def _open(self) -> None:
        import openai

        self.openai = openai
        self.slots = asyncio.Semaphore(self.endpoint.concurrency)
        self.client = openai.AsyncOpenAI(
            base_url=self.endpoint.base_url, api_key=self.endpoint.api_key or "none", max_retries=0, timeout=self.endpoint.timeout
        )

    async def _close(self) -> None:
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()
        await self.client.close()

    async def models(self) -> list[dict[str, Any]]:
        try:
            page = await self.client.models.list(timeout=min(self.endpoint.timeout, _LIST_SECONDS))
        except self.openai.APIStatusError as error:
            raise EndpointError(_said(self.endpoint, error)) from None
        except self.openai.APIConnectionError as error:
            raise EndpointError(f"cannot reach {self.endpoint.base_url}: {_reason(error)}") from None
        return [model.model_dump() for model in page.data]

    async def complete(self, ask: _Ask, config: GenerationConfig) -> GenerationResult:
        """One sample, retried on passing failures; a failed sample after the last try."""
        openai, endpoint = self.openai, self.endpoint
        if ask.body["max_tokens"] == 0:
            return _result(ask, "", "length", 0, 0 if config.controls_thinking else None)
        for attempt in range(endpoint.retries + 1):
            try:
                async with self.slots:
                    return await self._ask(ask, config)
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as error:
                raise EndpointError(_said(endpoint, error)) from None
            except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError) as error:
                if attempt == endpoint.retries:
                    return _failed(ask, f"{_reason(error)} (after {endpoint.retries + 1} tries)", config)
                await asyncio.sleep(min(_BACKOFF_CAP, _BACKOFF_SECONDS * 2**attempt) * random.uniform(0.5, 1.5))
            except openai.APIStatusError as error:  # this request's own fault (400, 413, 422): asking again gives the same
                return _failed(ask, _reason(error), config)
        raise AssertionError("unreachable")

    async def _ask(self, ask: _Ask, config: GenerationConfig) -> GenerationResult:
        if self.endpoint.api == "chat":
            reply = await self.client.chat.completions.create(**ask.body)
            choice = reply.choices[0]
            text = _joined(_field(choice.message, "reasoning_content", "reasoning"), choice.message.content or "")
        else:
            reply = await self.client.completions.create(**ask.body)
            choice = reply.choices[0]
            text = choice.text
        usage = reply.usage
        details = getattr(usage, "completion_tokens_details", None) if usage is not None else None
        reasoning = getattr(details, "reasoning_tokens", None) if details is not None else None
        finish = _finish(choice.finish_reason, _field(choice, "stop_reason"), config)
        tokens = usage.completion_tokens if usage is not None else 0
        if not config.controls_thinking:
            return _result(ask, text, finish, tokens, None)
        if reasoning is None:  # a server that does not count them: the thinking's tokens, counted here
            thinking, closed, _ = text.partition("</think>")
            reasoning = len(self.tokenizer.encode(thinking + closed)) if closed and self.tokenizer is not None else tokens
        return _result(ask, text, finish, tokens, min(reasoning, tokens))


def _field(obj: Any, *names: str) -> Any:
    """A field a server may add to the OpenAI schema (vLLM's reasoning_content, stop_reason)."""
    extra = getattr(obj, "model_extra", None) or {}
    for name in names:
        value = getattr(obj, name, None)
        value = extra.get(name) if value is None else value
        if value is not None:
            return value
    return None


def _joined(reasoning: str | None, content: str) -> str:
    """The reply as the model wrote it: thinking and answer around </think>, so grading after
    </think> works and records keep the two apart."""
    if reasoning is None:
        return content
    return f"<think>\n{reasoning.strip(chr(10))}\n</think>\n\n{content.lstrip(chr(10))}"


def _finish(reason: str | None, stop_reason: Any, config: GenerationConfig) -> str:
    """Our finish reasons from OpenAI's: "length"; "stop" where a stop string ended it (vLLM's
    stop_reason names it), else "eos"."""
    if reason == "length":
        return "length"
    return "stop" if isinstance(stop_reason, str) and stop_reason in config.stop else "eos"


def _result(ask: _Ask, text: str, finish: str, tokens: int, reasoning: int | None, error: str | None = None) -> GenerationResult:
    return GenerationResult(
        prompt_index=ask.prompt_index, sample_index=ask.sample, prompt_token_ids=ask.prompt_ids, token_ids=(), text=text,
        finish_reason=finish, logprobs=(), sampling_logprobs=(), thinking_tokens=reasoning,
        answer_tokens=None if reasoning is None else tokens - reasoning, completion_tokens=tokens, error=error,
    )  # fmt: skip


def _failed(ask: _Ask, message: str, config: GenerationConfig) -> GenerationResult:
    return _result(ask, "", FINISH_ERROR, 0, 0 if config.controls_thinking else None, message)


def _cancelled(ask: _Ask, config: GenerationConfig) -> GenerationResult:
    return _result(ask, "", "cancelled", 0, 0 if config.controls_thinking else None)


def _said(endpoint: Endpoint, error: Any) -> str:
    return f"{endpoint.base_url} answered {error.status_code}: {_reason(error)}"


def _reason(error: Exception) -> str:
    """The error's own message in one line (the server's message where it sent one)."""
    body = getattr(error, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    status = getattr(error, "status_code", None)
    text = message or str(error) or type(error).__name__
    return " ".join((f"{status} {text}" if status and not message else text).split())
