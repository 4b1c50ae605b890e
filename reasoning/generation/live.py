"""One engine that keeps running while callers come and go: a server's requests join the batch.

`LiveEngine` runs `Engine.serve` on its own thread. `submit` queues a prompt's n samples with
their own sampling, stop strings, thinking control and seed, and returns a `Job` at once; the
engine admits it at its next step, beside whatever already decodes (continuous batching across
callers). A job is read through thread-safe snapshots (`Job.samples`), hears of its progress
through a callback run on the engine thread, and can be cancelled from any thread: its
sequences leave, and their cache blocks return, before the next step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from torch import nn

from reasoning.generation.api import GenerationResult, Prompt, Tokenizer, _eos_ids, _requests, _result
from reasoning.generation.engine import Engine
from reasoning.generation.options import GenerationConfig
from reasoning.generation.request import Request


class Overloaded(RuntimeError):
    """Too many jobs wait for the engine: the caller should come back later (HTTP 429)."""


@dataclass(frozen=True)
class Sample:
    """One sample of a job as it stands: the text so far (whole characters; text that could still
    become a stop string held back, the stop string cut once finished), its tokens and their
    log-probs, and why it ended (None while it runs)."""

    text: str
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    finish_reason: str | None
    thinking_tokens: int | None
    answer_tokens: int | None


class Job:
    """One submitted prompt's n samples, shared by the caller's thread and the engine's."""

    def __init__(
        self, requests: list[Request], tokenizer: Tokenizer, config: GenerationConfig, on_update: Callable[[Job], None] | None
    ) -> None:
        self.requests, self.tokenizer, self.config, self.on_update = requests, tokenizer, config, on_update
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._cancelled = False
        self._marks = [_mark(request) for request in requests]  # what each sample shows, as of the last step

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    def samples(self) -> list[Sample]:
        """The samples as of the engine's last step (copies made on the caller's thread: the engine
        thread only records how far each sample had got, so its cost per step does not grow with
        the length of the replies)."""
        with self._lock:
            marks = list(self._marks)
        return [_sample(request, mark) for request, mark in zip(self.requests, marks)]

    def cancel(self) -> None:
        """Stop the job's samples (tokens so far kept, finish_reason "cancelled") at the next step."""
        self._cancelled = True

    def wait(self, timeout: float | None = None) -> list[GenerationResult]:
        """Block until the job is done; its results as `generate` gives them. Raises what the engine
        raised while running it, or TimeoutError."""
        if not self._finished.wait(timeout):
            raise TimeoutError(f"the job did not finish within {timeout} s")
        if self.error is not None:
            raise self.error
        return [_result(self.tokenizer, self.config, 0, index, request) for index, request in enumerate(self.requests)]

    def _update(self) -> None:
        """On the engine thread, after a step that gave the job tokens: a new snapshot, then the callback."""
        marks = [_mark(request) for request in self.requests]
        with self._lock:
            self._marks = marks
        if all(request.finish_reason is not None for request in self.requests):
            self._finished.set()
        self._notify()

    def _fail(self, error: BaseException) -> None:
        self.error = error
        for request in self.requests:
            request.cancel()
        self._update()

    def _notify(self) -> None:
        if self.on_update is not None:
            try:
                self.on_update(self)
            except Exception:  # noqa: BLE001 - a caller's callback must not stop the engine
                pass


class LiveEngine:
    """An engine on a daemon thread that jobs join at any step (see the module docstring).

    max_waiting: the most jobs that may wait for admission; `submit` raises `Overloaded` beyond it.
    Other options as `Engine`'s; the cache is sized for max_batch_size sequences of the whole
    context unless max_cache_tokens is given.
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Tokenizer,
        *,
        max_batch_size: int = 32,
        max_cache_tokens: int | None = None,
        max_waiting: int = 256,
        compile: bool | None = False,
    ) -> None:
        if max_waiting < 1:
            raise ValueError(f"max_waiting must be at least 1, got {max_waiting}")
        self.model, self.tokenizer, self.max_waiting = model, tokenizer, max_waiting
        self.engine = Engine(model, max_batch_size=max_batch_size, max_cache_tokens=max_cache_tokens, compile=compile)
        # The longest sequence served: the model's context, or less where the cache holds less.
        self.context = min(model.config.max_position_embeddings, max_cache_tokens or model.config.max_position_embeddings)
        self.running = 0  # sequences decoding at the last step
        self.waiting = 0  # jobs submitted and not yet admitted
        self._inbox: list[Job] = []
        self._jobs: list[Job] = []  # admitted or queued in the engine, not yet done
        self._owner: dict[int, Job] = {}  # id of each of their requests -> its job
        self._arrived = threading.Condition()
        self._closed = False
        self._failure: BaseException | None = None  # what stopped the engine thread, if anything did
        self._thread = threading.Thread(target=self._loop, name="reasoning-engine", daemon=True)
        self._thread.start()

    def submit(self, prompt: Sequence[int], config: GenerationConfig, on_update: Callable[[Job], None] | None = None) -> Job:
        """Queue a prompt's config.n samples; returns at once. Raises ValueError for a prompt the
        model cannot take (empty, too long, ids outside the vocabulary) and `Overloaded` when
        max_waiting jobs already wait."""
        if self._closed:
            raise RuntimeError("the engine is closed" if self._failure is None else f"the engine stopped: {self._failure}")
        config = config.with_options(max_context=min(config.max_context or self.context, self.context))
        [requests] = _requests(self.model, self.tokenizer, [Prompt(list(prompt))], config, track_text=True)
        for request in requests:
            request.sampling = config.sampling
        job = Job(requests, self.tokenizer, config, on_update)
        with self._arrived:
            if self.waiting >= self.max_waiting:
                raise Overloaded(f"{self.waiting} requests are waiting already (at most {self.max_waiting}); try again later")
            self.waiting += 1
            self._inbox.append(job)
            self._arrived.notify()
        return job

    def close(self, timeout: float | None = 10) -> None:
        """Stop the engine thread; jobs not done are cancelled."""
        with self._arrived:
            self._closed = True
            self._arrived.notify()
        self._thread.join(timeout)

    def _next(self, idle: bool) -> list[list[Request]] | None:
        """The engine's inbox (`Engine.serve`): apply cancellations, retire finished jobs, hand
        over new arrivals; when idle, wait for one. None once closed."""
        with self._arrived:
            while idle and not self._inbox and not self._closed:
                self._arrived.wait()
            if self._closed:
                for job in self._jobs + self._inbox:
                    job.cancel()
            arrived, self._inbox = self._inbox, []
        for job in self._jobs:
            if job._cancelled:
                for request in job.requests:
                    request.cancel()
                job._update()
        for job in (job for job in self._jobs if job.done):
            for request in job.requests:
                del self._owner[id(request)]
        self._jobs = [job for job in self._jobs if not job.done] + arrived
        self._owner.update((id(request), job) for job in arrived for request in job.requests)
        if self._closed:
            for job in arrived:
                job._fail(RuntimeError("the engine closed before this request ran"))
            return None
        self._count()
        return [job.requests for job in arrived]

    def _count(self) -> None:
        """Publish how many sequences run and how many jobs wait (plain ints: safe to read anywhere)."""
        running = sum(1 for job in self._jobs for r in job.requests if r.finish_reason is None and (r.tokens or r.branches))
        started = sum(1 for job in self._jobs if any(r.tokens for r in job.requests))
        with self._arrived:
            self.running = running
            self.waiting = len(self._inbox) + len(self._jobs) - started

    def _loop(self) -> None:
        eos = _eos_ids(self.tokenizer, GenerationConfig())
        try:
            for stepped in self.engine.serve(self._next, eos):
                updated = {id(job): job for job in (self._owner[id(request)] for request in stepped)}
                self._count()  # before the callbacks: a caller told of a token sees its job counted as running
                for job in updated.values():
                    job._update()
        except BaseException as error:  # noqa: BLE001 - every waiting caller hears of it, none hangs
            with self._arrived:
                self._closed, self._failure = True, error
                failed, self._inbox = self._jobs + self._inbox, []
            for job in failed:
                if not job.done:
                    job._fail(error)


class _Mark(NamedTuple):
    """How far a sample had got at a step: its token count, its text (an immutable string, not
    copied) and the length of it that is safe to show, why it ended, its thinking counts."""

    tokens: int
    text: str
    shown: int
    finish_reason: str | None
    thinking_tokens: int | None
    answer_tokens: int | None


def _mark(request: Request) -> _Mark:
    """O(1): the request's progress, on the engine thread."""
    text = request.text
    shown = len(text.text) if text.stop_index is None else text.stop_index
    if request.finish_reason is None:
        shown = min(shown, max(0, len(text.text) - text.longest_stop + 1))  # what stable_text() shows
    thinking = request.thinking
    return _Mark(
        len(request.tokens), text.text, shown, request.finish_reason,
        None if thinking is None else thinking.thinking, None if thinking is None else thinking.answer,
    )  # fmt: skip


def _sample(request: Request, mark: _Mark) -> Sample:
    """The sample as `mark` saw it (lists only grow, so their first `mark.tokens` items are that step's)."""
    return Sample(
        mark.text[: mark.shown], tuple(request.tokens[: mark.tokens]), tuple(request.logprobs[: mark.tokens]),
        mark.finish_reason, mark.thinking_tokens, mark.answer_tokens,
    )  # fmt: skip
