"""The generation engine: requests in KV-cache rows, continuous batching, one prefill per prompt.

The rows of one preallocated KV cache are the slots. Live requests always fill a contiguous
prefix of rows, so a decode step is one forward pass over exactly the live rows and a finished
request costs nothing more: its slot is filled by moving the last live row into it (one row
copy), and the free rows behind the prefix take waiting prompts (continuous batching, as in
Orca, Yu et al. 2022). A waiting prompt is prefilled once, however many samples it has, and
its cache row is then copied into the row of each sample. Prompts admitted together are
sorted by length and prefilled in right-padded chunks of bounded size, so padding stays small.
"""

from __future__ import annotations

import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.fx.experimental import _config as fx_config

from reasoning.generation.detokenize import IncrementalText
from reasoning.generation.sampling import SamplingParams, choose_tokens
from reasoning.model.cache import KVCache
from reasoning.model.qwen3 import last_positions

FINISH_EOS, FINISH_STOP, FINISH_LENGTH, FINISH_CANCELLED = "eos", "stop", "length", "cancelled"


@dataclass(eq=False)
class Request:
    """One sequence to generate and its progress: tokens, log-probs and why it stopped."""

    prompt: list[int]
    max_new_tokens: int
    key: int = 0  # its random stream (see sampling.request_key)
    text: IncrementalText | None = None  # decodes as it goes, for stop strings and streaming
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    sampling_logprobs: list[float] = field(default_factory=list)
    finish_reason: str | None = None

    def add(self, token: int, logprob: float, sampling_logprob: float, eos_token_ids: frozenset[int]) -> bool:
        """Record one generated token; True when the request is finished."""
        self.tokens.append(token)
        self.logprobs.append(logprob)
        self.sampling_logprobs.append(sampling_logprob)
        if token in eos_token_ids:
            self.finish_reason = FINISH_EOS
        elif self.text is not None and self.text.push(token):
            self.finish_reason = FINISH_STOP
        elif len(self.tokens) >= self.max_new_tokens:
            self.finish_reason = FINISH_LENGTH
        if self.finish_reason is not None and self.text is not None:
            self.text.flush()
        return self.finish_reason is not None

    def cancel(self) -> None:
        """Stop generating this request; the engine drops it before its next step."""
        if self.finish_reason is None:
            self.finish_reason = FINISH_CANCELLED
            if self.text is not None:
                self.text.flush()


@dataclass
class _Waiting:
    """A prompt whose samples have not all been admitted yet."""

    prompt: list[int]
    requests: deque[Request]


class _Slots:
    """The live requests in cache-row order, with the per-row tensors a decode step reads."""

    def __init__(self, rows: int, device: torch.device) -> None:
        self.requests: list[Request] = []
        self.tokens = torch.zeros(rows, dtype=torch.long, device=device)  # each row's next input
        self.keys = torch.zeros(rows, dtype=torch.long, device=device)  # random stream per row
        self.counters = torch.zeros(rows, dtype=torch.long, device=device)  # draws made per row

    @property
    def live(self) -> int:
        return len(self.requests)

    def extend(self, requests: list[Request]) -> None:
        start, stop = self.live, self.live + len(requests)
        self.requests.extend(requests)
        self.keys[start:stop] = torch.tensor([r.key for r in requests], dtype=torch.long)
        self.counters[start:stop] = 0

    def retire(self, cache: KVCache, rows: list[int]) -> None:
        """Drop finished rows (ascending), moving rows from the end into their places."""
        kept = self.live - len(rows)
        finished = set(rows)
        holes = [row for row in rows if row < kept]
        movers = [row for row in range(kept, self.live) if row not in finished]
        for hole, mover in zip(holes, movers):
            cache.copy_rows([mover], hole)
            self.requests[hole] = self.requests[mover]
        if holes:
            to, source = (torch.tensor(x, device=self.tokens.device) for x in (holes, movers))
            for tensor in (self.tokens, self.keys, self.counters):
                tensor[to] = tensor[source]
        del self.requests[kept:]


class Engine:
    """Generates many requests with one model, keeping the batch full as requests finish.

    max_batch_size: rows of the KV cache, the most requests decoded at once.
    max_cache_tokens: optional bound on rows x row length, the KV cache's size in tokens.
    prefill_tokens: the most (padded) prompt tokens per prefill forward pass.
    compile: run decode steps through `torch.compile` (ignored on MPS, with a warning).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        max_batch_size: int = 32,
        max_cache_tokens: int | None = None,
        prefill_tokens: int = 2048,
        compile: bool = False,
    ) -> None:
        if max_batch_size < 1 or prefill_tokens < 1:
            raise ValueError("max_batch_size and prefill_tokens must be at least 1")
        self.model = model
        parameter = next(model.parameters())
        self.device, self.dtype = parameter.device, parameter.dtype
        self.max_batch_size = max_batch_size
        self.max_cache_tokens = max_cache_tokens
        self.prefill_tokens = prefill_tokens
        self._decoder = _compiled(model) if compile else _eager(model)
        self._cache: KVCache | None = None

    @torch.inference_mode()
    def run(
        self, groups: Sequence[Sequence[Request]], params: SamplingParams, eos_token_ids: Sequence[int] = ()
    ) -> Iterator[list[Request]]:
        """Generate every request; each group's requests share one prompt (prefilled once).

        Yields, after each forward pass, the requests that received a token in it (finished
        ones have their finish_reason set), so callers can stream; exhaust it to just run.
        A caller may `cancel()` any request between steps (self-consistency stopping early).
        """
        for request in (r for group in groups for r in group if r.max_new_tokens <= 0):
            request.finish_reason = FINISH_LENGTH
        groups = [[r for r in group if r.finish_reason is None] for group in groups]
        groups = [group for group in groups if group]
        if not groups:
            return
        # Longest first (LPT scheduling, Graham 1969): a long request admitted last would
        # decode alone at the end, with the batch nearly empty.
        groups.sort(key=lambda g: len(g[0].prompt) + max(r.max_new_tokens for r in g), reverse=True)
        max_len = len(groups[0][0].prompt) + max(r.max_new_tokens for r in groups[0])
        cache, capacity = self._allocate(sum(len(g) for g in groups), max_len)
        waiting = deque(_Waiting(g[0].prompt, deque(g)) for g in groups)
        slots = _Slots(cache.batch_size, self.device)
        eos = frozenset(eos_token_ids)
        while waiting or slots.live:
            cancelled = [row for row, request in enumerate(slots.requests) if request.finish_reason is not None]
            if cancelled:
                slots.retire(cache, cancelled)
            if waiting and slots.live < capacity:
                yield self._admit(cache, capacity - slots.live, waiting, slots, params, eos)
            if slots.live:
                yield self._emit(cache, slots, 0, self._decoder(cache, slots.tokens, slots.live, capacity), params, eos)

    def _allocate(self, requests: int, max_len: int) -> tuple[KVCache, int]:
        """A cache with enough rows of `max_len` tokens (the last one when big enough), and how many to use."""
        rows = min(self.max_batch_size, requests)
        if self.max_cache_tokens is not None:
            rows = min(rows, self.max_cache_tokens // max_len)
            if rows < 1:
                raise ValueError(f"max_cache_tokens={self.max_cache_tokens} cannot hold one request of {max_len} tokens")
        # A compiled decoder never reads all the rows (see _CompiledDecoder).
        needed = rows + 1 if isinstance(self._decoder, _CompiledDecoder) else rows
        cache = self._cache
        if cache is None or cache.batch_size < needed or cache.max_len < max_len:
            self._cache = None  # free the old one before allocating
            cache = KVCache.allocate(self.model.config, needed, max_len, device=self.device, dtype=self.dtype)
            self._cache = cache
        cache.reset()
        return cache, rows

    def _admit(
        self, cache: KVCache, free: int, waiting: deque[_Waiting], slots: _Slots, params: SamplingParams, eos: frozenset[int]
    ) -> list[Request]:
        """Prefill waiting prompts into `free` rows after the live ones, copy them to their samples' rows, sample."""
        admitted: list[tuple[list[int], list[Request]]] = []
        while waiting and free:
            entry = waiting[0]
            pending = [request for request in entry.requests if request.finish_reason is None]  # not cancelled
            take, entry.requests = pending[:free], deque(pending[free:])
            if take:
                admitted.append((entry.prompt, take))
                free -= len(take)
            if not entry.requests:
                waiting.popleft()
        if not admitted:
            return []
        admitted.sort(key=lambda item: len(item[0]))
        start = slots.live
        logits = self._prefill(cache, start, [prompt for prompt, _ in admitted])
        counts = torch.tensor([len(requests) for _, requests in admitted], device=logits.device)
        source = torch.repeat_interleave(torch.arange(len(admitted), device=logits.device), counts)
        if source.numel() > len(admitted):  # n > 1: share each prefilled prompt with its samples
            cache.copy_rows(source + start, start)
        slots.extend([request for _, requests in admitted for request in requests])
        return self._emit(cache, slots, start, logits[source], params, eos)

    def _prefill(self, cache: KVCache, start: int, prompts: list[list[int]]) -> torch.Tensor:
        """Run prompts (sorted by length) into rows start, start+1, ...; their last logits."""
        logits = []
        for chunk in _chunks(prompts, self.prefill_tokens):
            rows = cache.rows(start, start + len(chunk))
            rows.reset()
            ids, mask = _right_pad(chunk, self.device)
            logits.append(next_token_logits(self.model, ids, rows, mask))
            start += len(chunk)
        return torch.cat(logits)

    def _emit(
        self, cache: KVCache, slots: _Slots, start: int, logits: torch.Tensor, params: SamplingParams, eos: frozenset[int]
    ) -> list[Request]:
        """Choose the next token of rows start.. from their logits, record it, retire finished rows."""
        stop = start + logits.shape[0]
        tokens, logprobs, sampling_logprobs = choose_tokens(logits, params, slots.keys[start:stop], slots.counters[start:stop])
        slots.tokens[start:stop] = tokens
        slots.counters[start:stop] += 1
        stepped = slots.requests[start:stop]
        values = zip(stepped, tokens.tolist(), *torch.stack((logprobs, sampling_logprobs)).tolist())
        finished = [row for row, (request, *new) in enumerate(values, start) if request.add(*new, eos)]
        if finished:
            slots.retire(cache, finished)
        return stepped


def _chunks(prompts: list[list[int]], max_tokens: int) -> Iterator[list[list[int]]]:
    """Consecutive groups of length-sorted prompts whose padded size stays within max_tokens."""
    chunk: list[list[int]] = []
    for prompt in prompts:
        if chunk and (len(chunk) + 1) * len(prompt) > max_tokens:
            yield chunk
            chunk = []
        chunk.append(prompt)
    if chunk:
        yield chunk


def _right_pad(prompts: list[list[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Token ids [batch, longest] padded on the right, and the mask of real tokens (None if unpadded)."""
    longest = max(len(p) for p in prompts)
    ids = torch.zeros(len(prompts), longest, dtype=torch.long)
    mask = torch.zeros(len(prompts), longest, dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, : len(prompt)] = torch.tensor(prompt)
        mask[row, : len(prompt)] = 1
    if all(len(p) == longest for p in prompts):
        return ids.to(device), None
    return ids.to(device), mask.to(device)


def next_token_logits(model: nn.Module, ids: torch.Tensor, cache: KVCache, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Run ids [batch, T] into the cache; logits [batch, vocab] after each row's last real token.

    The head runs on those positions only, so a prefill never builds a [batch, T, vocab] tensor.
    """
    return model.logits(last_positions(model(ids, attention_mask=attention_mask, cache=cache), attention_mask))


def _eager(model: nn.Module) -> Callable[[KVCache, torch.Tensor, int, int], torch.Tensor]:
    """A decode step: next-token logits of the first `live` rows (of `capacity`), whose last tokens are `tokens`."""
    return lambda cache, tokens, live, capacity: next_token_logits(model, tokens[:live, None], cache.rows(0, live))


class _CompiledDecoder:
    """A decode step through torch.compile, with inductor's freezing and one graph for all batches.

    Freezing turns the weights into constants, so on CPU the linear layers run oneDNN kernels
    on prepacked weights (about twice the bandwidth of the unpacked ones in bf16). It also
    means the compiled model keeps the weights it first saw: weights changed in place later
    (a training step) would be silently ignored, so that is an error here.

    One graph serves every batch size and cache length if no input ever looks special to the
    compiler: the cache has a spare row, so the view of the decoded rows is never contiguous;
    sizes that happen to be equal are not assumed equal (duck shaping off); and a batch whose
    last live row remains decodes a second, idle row (one row would be specialised). Engines
    of one row (streaming, chat) get their own one-row graph, ~12% faster than two rows.
    Compiling the 0.6B model takes about two minutes on a 2-core CPU; then nothing recompiles.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.compiled = torch.compile(next_token_logits, dynamic=True)
        # torch.compile's cache outlives this wrapper, so the first compile's weights are the ones
        # a later wrapper of the same model runs with: remember them per model.
        self.version = _FROZEN_VERSIONS.setdefault(model, _weights_version(model))

    def __call__(self, cache: KVCache, tokens: torch.Tensor, live: int, capacity: int) -> torch.Tensor:
        if _weights_version(self.model) != self.version:
            raise RuntimeError("the weights changed since the model was compiled; compile=True is for fixed weights")
        rows = live if capacity == 1 else max(live, 2)
        if rows > live:
            cache.lengths[1] = 0  # a free or spare row, decoded along for nothing and then ignored
        with torch._inductor.config.patch(freezing=True), fx_config.patch(use_duck_shape=False):
            logits = self.compiled(self.model, tokens[:rows, None], cache.rows(0, rows))
        return logits[:live]


_FROZEN_VERSIONS: weakref.WeakKeyDictionary[nn.Module, int] = weakref.WeakKeyDictionary()


def _weights_version(model: nn.Module) -> int:
    """Sum of the parameters' in-place modification counters: changes when any weight is written."""
    return sum(parameter._version for parameter in model.parameters())


def _compiled(model: nn.Module) -> Callable[[KVCache, torch.Tensor, int, int], torch.Tensor]:
    if next(model.parameters()).device.type == "mps":
        warnings.warn("torch.compile is not used on MPS; decoding runs eagerly", stacklevel=3)
        return _eager(model)
    return _CompiledDecoder(model)
