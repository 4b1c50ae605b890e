"""OpenAI request bodies in, the engine's own options out: prompt ids and a `GenerationConfig`.

`parse_chat` reads a `/v1/chat/completions` body, `parse_completion` a `/v1/completions` one.
Each field is checked for its JSON type (a wrong type is a 422, as a schema check gives) and
for its value (a bad value is a 400 naming the field), before anything reaches the engine.
Fields this server does not support are refused only when they ask for something (`tools`,
`response_format` other than text, ...); fields it does not know are ignored, as OpenAI does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from reasoning.generation.options import GenerationConfig
from reasoning.serving.errors import RequestError
from reasoning.serving.reasoning_split import prompt_opens_thinking

ROLES = ("system", "user", "assistant")
MAX_TOP_LOGPROBS = 20  # OpenAI's limit on chat's top_logprobs
MAX_STOP_STRINGS = 16

# Fields whose default is the only value served: a request that sets one otherwise is refused.
UNSUPPORTED = {
    "tools": lambda value: not value,
    "functions": lambda value: not value,
    "tool_choice": lambda value: value in (None, "none", "auto"),
    "function_call": lambda value: value in (None, "none", "auto"),
    "response_format": lambda value: value is None or (isinstance(value, dict) and value.get("type") == "text"),
    "logit_bias": lambda value: not value,
    "echo": lambda value: not value,
    "suffix": lambda value: not value,
    "best_of": lambda value: value in (None, 1),
    "audio": lambda value: value is None,
    "prediction": lambda value: value is None,
    "guided_json": lambda value: value is None,
    "guided_regex": lambda value: value is None,
    "guided_choice": lambda value: value is None,
    "guided_grammar": lambda value: value is None,
}


class ChatTokenizer(Protocol):
    """What parsing needs of a tokenizer (`reasoning.tokenizer.Qwen3Tokenizer` has it)."""

    def encode(self, text: str) -> list[int]: ...

    def apply_chat_template(self, messages: list[dict], *, enable_thinking: bool = True) -> str: ...


@dataclass(frozen=True)
class ParsedRequest:
    """A request as the engine takes it, with what the answer needs to be written back.

    opens_thinking: the reply starts inside <think> (chat only); split: write reasoning_content
    apart from content (chat); logprobs: return each chosen token's log-prob."""

    prompt_ids: list[int]
    config: GenerationConfig
    stream: bool
    include_usage: bool
    logprobs: bool
    split: bool
    opens_thinking: bool


def parse_chat(body: dict, tokenizer: ChatTokenizer, context: int, max_n: int) -> ParsedRequest:
    """A `/v1/chat/completions` body: messages under the model's chat template."""
    if "messages" not in body or body["messages"] is None:
        raise RequestError(400, "messages is required: a list of {role, content}", param="messages", code="missing_field")
    messages = [_message(message, index) for index, message in enumerate(typed(body, "messages", list, "a list"))]
    if not messages:
        raise RequestError(400, "messages must hold at least one message", param="messages", code="invalid_value")
    template_options = typed(body, "chat_template_kwargs", dict, "an object") or {}
    thinking = template_options.get("enable_thinking", True)
    if not isinstance(thinking, bool):
        raise RequestError(422, "chat_template_kwargs.enable_thinking must be a boolean", param="chat_template_kwargs", code="invalid_type")
    try:
        prompt = tokenizer.apply_chat_template(messages, enable_thinking=thinking)
    except ValueError as error:  # the template refused the messages
        raise RequestError(400, str(error), param="messages", code="invalid_value") from None
    top_logprobs = _integer(body, "top_logprobs", 0, 0, MAX_TOP_LOGPROBS)
    if top_logprobs:
        raise _no_top_logprobs("top_logprobs")
    logprobs = typed(body, "logprobs", bool, "a boolean") or False
    budget = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"  # the newer name wins
    ids = tokenizer.encode(prompt)
    return _parsed(body, ids, budget, logprobs, context, max_n, split=True, opens_thinking=prompt_opens_thinking(prompt))


def parse_completion(body: dict, tokenizer: ChatTokenizer, context: int, max_n: int) -> ParsedRequest:
    """A `/v1/completions` body: one prompt, text or token ids, completed as it is."""
    if "prompt" not in body or body["prompt"] is None:
        raise RequestError(400, "prompt is required: a string or a list of token ids", param="prompt", code="missing_field")
    ids = _prompt_ids(body["prompt"], tokenizer)
    top = _integer(body, "logprobs", None, 0, 5)
    if top:
        raise _no_top_logprobs("logprobs")
    return _parsed(body, ids, "max_tokens", top is not None, context, max_n, split=False, opens_thinking=False)


def _parsed(
    body: dict, ids: list[int], budget: str, logprobs: bool, context: int, max_n: int, *, split: bool, opens_thinking: bool
) -> ParsedRequest:  # fmt: skip
    """The fields both endpoints share, checked; the token budget (the field `budget`) fitted to the
    context, and by default all the context the prompt leaves."""
    for name, allowed in UNSUPPORTED.items():
        if not allowed(body.get(name)):
            raise RequestError(400, f"{name} is not supported by this server", param=name, code="unsupported_parameter")
    stream = typed(body, "stream", bool, "a boolean") or False
    stream_options = typed(body, "stream_options", dict, "an object")
    if stream_options is not None and not stream:
        raise RequestError(400, "stream_options is only allowed with stream: true", param="stream_options", code="invalid_value")
    include_usage = (stream_options or {}).get("include_usage", False)
    if not isinstance(include_usage, bool):
        raise RequestError(422, "stream_options.include_usage must be a boolean", param="stream_options", code="invalid_type")
    max_tokens = _integer(body, budget, None, 1)
    if len(ids) >= context:
        raise RequestError(
            400, f"the prompt has {len(ids)} tokens; the context limit is {context} tokens, with room for at least one more",
            param="messages" if split else "prompt", code="context_length_exceeded",
        )  # fmt: skip
    room = context - len(ids)
    if max_tokens is not None and max_tokens > room:
        raise RequestError(
            400, f"{budget} is {max_tokens}, but the context limit is {context} tokens and the prompt has {len(ids)}: "
                 f"at most {room} may be generated",
            param=budget, code="context_length_exceeded",
        )  # fmt: skip
    n = _integer(body, "n", 1, 1)
    if n > max_n:
        message = f"n is {n}; this server gives at most {max_n} samples per request (--max-n)"
        raise RequestError(400, message, param="n", code="invalid_value")
    top_k = _integer(body, "top_k", 0, -1)
    options = {
        "max_new_tokens": room if max_tokens is None else max_tokens,
        "temperature": _number(body, "temperature", 1.0, 0.0),
        "top_p": _number(body, "top_p", 1.0, 0.0, 1.0, open_low=True),
        "top_k": max(top_k, 0),  # vLLM's -1 and 0 both turn it off
        "min_p": _number(body, "min_p", 0.0, 0.0, 1.0),
        "presence_penalty": _number(body, "presence_penalty", 0.0, -2.0, 2.0),
        "frequency_penalty": _number(body, "frequency_penalty", 0.0, -2.0, 2.0),
        "n": n,
        "seed": _integer(body, "seed", None),
        "stop": _stop(body),
        "thinking_budget": _integer(body, "thinking_budget", None, 0),
        "min_thinking": _integer(body, "min_thinking", 0, 0),
        "answer_budget": _integer(body, "answer_budget", None, 1),
    }
    try:
        config = GenerationConfig(**options)
    except ValueError as error:  # what only the fields together make wrong (min_thinking above the budget)
        raise RequestError(400, str(error), code="invalid_value") from None
    return ParsedRequest(ids, config, stream, include_usage, logprobs, split, opens_thinking)


def _message(message: Any, index: int) -> dict:
    """One chat message as the template takes it: a role and its text."""
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise RequestError(422, f"{where} must be an object with role and content", param=where, code="invalid_type")
    role = message.get("role")
    if role not in ROLES:
        message = f"{where}.role must be one of {', '.join(ROLES)}, got {role!r}"
        raise RequestError(400, message, param=f"{where}.role", code="invalid_value")
    content = message.get("content")
    if content is None and role == "assistant":
        content = ""
    if isinstance(content, list):
        content = "".join(_text_part(part, f"{where}.content[{k}]") for k, part in enumerate(content))
    if not isinstance(content, str):
        raise RequestError(422, f"{where}.content must be a string or a list of text parts", param=f"{where}.content", code="invalid_type")
    turn = {"role": role, "content": content}
    if role == "assistant" and isinstance(message.get("reasoning_content"), str):
        turn["reasoning_content"] = message["reasoning_content"]
    return turn


def _text_part(part: Any, where: str) -> str:
    if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
        raise RequestError(400, f'{where} must be a text part {{"type": "text", "text": ...}}: this server reads text only', param=where,
                           code="invalid_value")  # fmt: skip
    return part["text"]


def _prompt_ids(prompt: Any, tokenizer: ChatTokenizer) -> list[int]:
    """A completion's prompt: a string, token ids, or a list holding one of either."""
    if isinstance(prompt, list) and prompt and all(isinstance(item, (str, list)) for item in prompt):
        if len(prompt) > 1:
            raise RequestError(400, f"prompt holds {len(prompt)} prompts; send one per request", param="prompt", code="invalid_value")
        [prompt] = prompt
    if isinstance(prompt, str):
        return tokenizer.encode(prompt)
    if isinstance(prompt, list) and all(isinstance(item, int) and not isinstance(item, bool) for item in prompt):
        return list(prompt)
    raise RequestError(422, "prompt must be a string or a list of token ids", param="prompt", code="invalid_type")


def _stop(body: dict) -> tuple[str, ...]:
    stop = body.get("stop")
    stops = [] if stop is None else [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(item, str) for item in stops):
        raise RequestError(422, "stop must be a string or a list of strings", param="stop", code="invalid_type")
    if len(stops) > MAX_STOP_STRINGS or not all(stops):
        raise RequestError(400, f"stop must hold 1 to {MAX_STOP_STRINGS} non-empty strings", param="stop", code="invalid_value")
    return tuple(stops)


def _no_top_logprobs(name: str) -> RequestError:
    return RequestError(
        400, f"{name} above 0 is not supported: this engine keeps only the chosen token's log-prob (ask for logprobs alone)",
        param=name, code="unsupported_parameter",
    )  # fmt: skip


def typed(body: dict, name: str, kind: type, words: str) -> Any:
    """body[name], None when absent or null; a value of another JSON type is a 422."""
    value = body.get(name)
    if value is not None and (not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))):
        raise RequestError(422, f"{name} must be {words}, got {_json_type(value)}", param=name, code="invalid_type")
    return value


def _integer(body: dict, name: str, default: int | None, low: int | None = None, high: int | None = None) -> Any:
    """An integer field (a float with no fraction counts), within [low, high]."""
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(422, f"{name} must be an integer, got {_json_type(value)}", param=name, code="invalid_type")
    _check_range(name, value, low, high)
    return value


def _number(body: dict, name: str, default: float, low: float, high: float | None = None, *, open_low: bool = False) -> float:
    """A number field within [low, high] ((low, high] with `open_low`)."""
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(422, f"{name} must be a number, got {_json_type(value)}", param=name, code="invalid_type")
    if not math.isfinite(value) or (open_low and value <= low):
        raise RequestError(400, f"{name} must be a finite number above {low:g}, got {value}", param=name, code="invalid_value")
    _check_range(name, value, low, high)
    return float(value)


def _check_range(name: str, value: float, low: float | None, high: float | None) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            bounds = f"between {low:g} and {high:g}"
        else:
            bounds = f">= {low:g}" if low is not None else f"<= {high:g}"
        raise RequestError(400, f"{name} must be {bounds}, got {value}", param=name, code="invalid_value")


def _json_type(value: Any) -> str:
    names: Sequence[tuple[type, str]] = ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"),
                                         (list, "an array"), (dict, "an object"))  # fmt: skip
    return next((words for kind, words in names if isinstance(value, kind)), "null")
