"""OpenAI's response objects and stream chunks, written from a job's samples.

A `Reply` answers one request: `whole` is the non-streamed body, `chunks` the stream chunks
since its last call (each choice's new reasoning, content and log-probs, then its
finish_reason), `usage_chunk` the closing usage chunk that `stream_options.include_usage` asks
for. What a stream sends for a choice concatenates to what `whole` gives for it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Protocol

from reasoning.generation.live import Sample
from reasoning.serving.reasoning_split import ReasoningStream, reasoning_tokens, split_reasoning
from reasoning.serving.requests import ParsedRequest

FINISH_REASONS = {"eos": "stop", "stop": "stop", "length": "length", "cancelled": "abort"}


class TokenText(Protocol):
    think_end_id: int

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str: ...


class Reply:
    """The answer to one parsed request, whole or streamed (see the module docstring)."""

    def __init__(self, request: ParsedRequest, model: str, tokenizer: TokenText) -> None:
        self.request, self.model, self.tokenizer = request, model, tokenizer
        self.chat = request.split
        self.id = ("chatcmpl-" if self.chat else "cmpl-") + uuid.uuid4().hex
        self.created = int(time.time())
        n = request.config.n
        self._streams = [ReasoningStream(request.opens_thinking) for _ in range(n)]
        self._sent_text = [0] * n
        self._sent_tokens = [0] * n
        self._offsets = [0] * n  # characters of the token strings sent (completions' text_offset)
        self._finished = [False] * n

    def whole(self, samples: list[Sample]) -> dict:
        """The non-streamed response body."""
        choices = []
        for index, sample in enumerate(samples):
            choice: dict = {"index": index, "finish_reason": FINISH_REASONS[sample.finish_reason or "cancelled"]}
            logprobs = self._logprobs(sample.token_ids, sample.logprobs, index) if self.request.logprobs else None
            if self.chat:
                split = split_reasoning(sample.text, self.request.opens_thinking)
                choice["message"] = {"role": "assistant", "content": split.content, "reasoning_content": split.reasoning}
            else:
                choice["text"] = sample.text
            choices.append({**choice, "logprobs": logprobs})
        return {**self._head(stream=False), "choices": choices, "usage": self.usage(samples)}

    def first_chunks(self) -> list[dict]:
        """What a stream opens with: each chat choice's assistant role (nothing for completions)."""
        if not self.chat:
            return []
        return [self._chunk(index, {"delta": {"role": "assistant", "content": ""}}) for index in range(self.request.config.n)]

    def chunks(self, samples: list[Sample]) -> list[dict]:
        """The chunks of what each choice gained since the last call, a finished choice's last with its finish_reason."""
        found = []
        for index, sample in enumerate(samples):
            if self._finished[index]:
                continue
            final = sample.finish_reason is not None
            new_tokens = slice(self._sent_tokens[index], len(sample.token_ids))
            logprobs = None
            if self.request.logprobs and new_tokens.start < new_tokens.stop:
                logprobs = self._logprobs(sample.token_ids[new_tokens], sample.logprobs[new_tokens], index)
            self._sent_tokens[index] = new_tokens.stop
            if self.chat:
                reasoning, content = self._streams[index].update(sample.text, final)
                delta = {key: text for key, text in (("reasoning_content", reasoning), ("content", content)) if text}
                fields: dict = {"delta": delta}
                changed = bool(delta)
            else:
                fields = {"text": sample.text[self._sent_text[index] :]}
                self._sent_text[index] = len(sample.text)
                changed = bool(fields["text"])
            if not (changed or logprobs or final):
                continue
            self._finished[index] = final
            finish = FINISH_REASONS[sample.finish_reason] if final else None
            found.append(self._chunk(index, {**fields, "logprobs": logprobs, "finish_reason": finish}))
        return found

    def usage_chunk(self, samples: list[Sample]) -> dict:
        return {**self._head(stream=True), "choices": [], "usage": self.usage(samples)}

    def usage(self, samples: list[Sample]) -> dict:
        """Token counts: the prompt's, the completions' (all choices), and how many of those were thinking."""
        prompt = len(self.request.prompt_ids)
        completion = sum(len(sample.token_ids) for sample in samples)
        thinking = sum(
            reasoning_tokens(sample.token_ids, split_reasoning(sample.text, self.request.opens_thinking), self.tokenizer.think_end_id)
            for sample in samples
        )  # fmt: skip
        return {
            "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "completion_tokens_details": {"reasoning_tokens": thinking},
        }  # fmt: skip

    def _head(self, stream: bool) -> dict:
        kind = ("chat.completion" if self.chat else "text_completion") + (".chunk" if stream and self.chat else "")
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def _chunk(self, index: int, fields: dict) -> dict:
        return {**self._head(stream=True), "choices": [{"index": index, **fields}]}

    def _logprobs(self, token_ids: Sequence[int], logprobs: Sequence[float], index: int) -> dict:
        """Each chosen token's log-prob in the endpoint's format (no alternatives: the engine keeps none)."""
        tokens = [self.tokenizer.decode([token]) for token in token_ids]
        if self.chat:
            return {"content": [
                {"token": token, "logprob": logprob, "bytes": list(token.encode()), "top_logprobs": []}
                for token, logprob in zip(tokens, logprobs, strict=True)
            ]}  # fmt: skip
        offsets = []
        for token in tokens:
            offsets.append(self._offsets[index])
            self._offsets[index] += len(token)
        return {"tokens": tokens, "token_logprobs": list(logprobs), "top_logprobs": None, "text_offset": offsets}
