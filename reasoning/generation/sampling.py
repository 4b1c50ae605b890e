"""Logits processors and token sampling: pure functions on [batch, vocab] tensors.

Each processor takes logits and returns logits with the excluded tokens set to -inf, so they
compose and work outside the engine: temperature, top-k, top-p (nucleus sampling, Holtzman
et al. 2020) and min-p (Nguyen et al. 2024). `process_logits` applies them in that order.
Presence and frequency penalties (`apply_penalties`) come first, greedy decoding included, as
in vLLM's sampler (vllm/v1/sample/sampler.py: penalties, then greedy or temperature, min-p,
top-k and top-p).

Sampling draws one uniform number per row and inverts the row's cumulative distribution. The
uniform numbers come from a counter-based generator (SplitMix64, Steele et al. 2014) keyed by
(request key, draw number), so a request's samples depend on its seed alone, not on which
other requests share its batch or on which device row it occupies, and no per-row generator
objects are needed: a whole batch draws in a few vectorised integer ops.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from reasoning.generation.nucleus import masses, nucleus_edge, sample_nucleus
from reasoning.generation.options import SamplingParams

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # SplitMix64's increment: 2^64 / golden ratio
_MIX1, _MIX2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide by the temperature: below 1 sharpens the distribution, above 1 flattens it."""
    if temperature <= 0:
        raise ValueError("temperature must be > 0 (temperature 0 means greedy: take the argmax)")
    return logits if temperature == 1 else logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k most likely tokens of each row (ties with the k-th are kept); k <= 0 keeps all."""
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, -math.inf)


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probability mass is at least p.

    Tokens as likely as the last one kept are kept too (as `top_k_filter` keeps ties), so the
    set does not depend on how a sort orders ties. Nothing is sorted and nothing waits on the
    host (see reasoning/generation/nucleus.py): the same few passes over the vocabulary whether
    the nucleus holds three tokens or a hundred thousand (random weights), and no graph break
    under torch.compile.
    """
    if p >= 1:
        return logits
    z = logits.float()
    return logits.masked_fill(z < nucleus_edge(z, masses(z), p), -math.inf)


def min_p_filter(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    """Keep tokens at least min_p times as likely as the row's most likely token.

    In log space p_i / p_max >= min_p reads logit_i >= logit_max + log(min_p): no softmax needed.
    """
    if min_p <= 0:
        return logits
    threshold = logits.max(dim=-1, keepdim=True).values + math.log(min_p)
    return logits.masked_fill(logits < threshold, -math.inf)


class Penalties(NamedTuple):
    """Each row's presence and frequency penalties and the counts they read (`apply_penalties`)."""

    counts: torch.Tensor  # [batch, vocab] int32: times each token was generated in the row's sequence
    presence: torch.Tensor  # [batch] float32
    frequency: torch.Tensor  # [batch] float32


def apply_penalties(logits: torch.Tensor, counts: torch.Tensor, presence: torch.Tensor, frequency: torch.Tensor) -> torch.Tensor:
    """logits - presence * [count > 0] - frequency * count, row by row ([batch, vocab]; presence
    and frequency [batch]): OpenAI's presence and frequency penalties, as vLLM computes them
    (vllm/model_executor/layers/utils.py `apply_penalties`, on the output tokens' counts only)."""
    counts = counts.to(logits.dtype)
    return logits - frequency[:, None] * counts - presence[:, None] * (counts > 0).to(logits.dtype)


def process_logits(logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """Float32 logits of the sampling distribution: temperature, then top-k, top-p, min-p."""
    if params.greedy:
        raise ValueError("greedy decoding has no sampling distribution to process")
    logits = apply_temperature(logits.float(), params.temperature)
    logits = top_k_filter(logits, params.top_k)
    logits = top_p_filter(logits, params.top_p)
    return min_p_filter(logits, params.min_p)


def sample_from_logits(logits: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Token ids [batch] drawn from softmax(logits) by inverting each row's CDF at uniforms [batch].

    Tokens of probability zero (filtered to -inf) are never drawn: the search point stays
    strictly below the row's total mass, and a zero-probability token does not raise the CDF.
    """
    cdf = logits.float().softmax(dim=-1).cumsum(dim=-1)
    total = cdf[:, -1:]
    point = torch.minimum(uniforms[:, None].to(cdf.dtype) * total, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cdf, point, right=True).squeeze(-1)


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[token] for each row, in float32 (a logsumexp, no [batch, vocab] log-softmax)."""
    logits = logits.float()
    return logits.gather(-1, tokens[:, None]).squeeze(-1) - logits.logsumexp(dim=-1)


class RowSampling(NamedTuple):
    """Each row's own sampling parameters, for a batch whose rows were asked for different ones
    (a server's requests). The flags and `top_k_max` are known on the host, so a step does only
    the filtering some row asked for; each row's tokens are those `choose_tokens` gives it alone."""

    temperature: torch.Tensor  # [batch] float32; 0: greedy
    top_k: torch.Tensor  # [batch] int64; 0: no limit
    top_p: torch.Tensor  # [batch] float64; 1: no limit
    log_min_p: torch.Tensor  # [batch] float32, log(min_p); -inf: no limit
    candidates: torch.Tensor  # [batch] bool: the row samples among its top-k candidates alone
    top_k_max: int  # the largest top_k of the rows (0: no row has one)
    candidate_k_max: int  # the largest top_k of the rows sampling among candidates (0: none does)
    sampled: bool  # whether any row samples (temperature > 0)
    full: bool  # whether any sampled row samples over the whole vocabulary
    nucleus: bool  # whether any of those has top_p < 1
    plain: bool  # whether any of those has top_p 1
    floor: bool  # whether any sampled row has min_p > 0


def choose_tokens(
    logits: torch.Tensor,
    params: SamplingParams | RowSampling,
    keys: torch.Tensor,
    counters: torch.Tensor,
    penalties: Penalties | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One decoding step: tokens, their log-probs under the model, and under the sampling distribution.

    keys and counters ([batch] int64) select each row's random stream and draw (see
    `counter_uniforms`). Penalties (None: none) change the choice, not the model's log-probs.
    Greedy decoding samples from a point mass: its log-prob is 0. `params` are the batch's, or
    each row's own (`RowSampling`).
    """
    # 16-bit logits key the nucleus search in one pass (`nucleus_edge`), unless penalties move them
    raw = logits if penalties is None and logits.dtype in (torch.bfloat16, torch.float16) else None
    logits = logits.float()  # once for every step below; also, bf16 argmax is ~3x slower on CPU
    penalized = logits if penalties is None else apply_penalties(logits, *penalties)
    if isinstance(params, RowSampling):
        return _choose_per_row(logits, penalized, raw, params, keys, counters)
    if params.greedy:
        tokens = penalized.argmax(dim=-1)
        return tokens, token_logprobs(logits, tokens), torch.zeros(tokens.shape, device=logits.device)
    uniforms = counter_uniforms(keys, counters)
    if _among_top_k(params.top_k, logits.shape[-1]):
        floor = math.log(params.min_p) if params.min_p > 0 else None
        tokens, sampling_logprobs = _sample_among_top_k(
            penalized, params.temperature, params.top_k, params.top_k, params.top_p, floor, uniforms
        )  # fmt: skip
        return tokens, token_logprobs(logits, tokens), sampling_logprobs
    if params.top_p < 1:
        z = top_k_filter(apply_temperature(penalized, params.temperature), params.top_k)
        floor = math.log(params.min_p) if params.min_p > 0 else None
        tokens, sampling_logprobs = _sample_top_p(z, raw, params.temperature, params.top_p, floor, uniforms)
        return tokens, token_logprobs(logits, tokens), sampling_logprobs
    processed = process_logits(penalized, params)
    tokens = sample_from_logits(processed, uniforms)
    return tokens, token_logprobs(logits, tokens), token_logprobs(processed, tokens)


def _sample_top_p(
    z: torch.Tensor, raw: torch.Tensor | None, temperature: float | torch.Tensor, top_p: float | torch.Tensor,
    log_min_p: float | torch.Tensor | None, uniforms: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Tokens and their sampling log-probs under top-p (and min-p) over the whole vocabulary, the
    distribution `process_logits` gives: z the logits divided by the temperature (top-k cut to
    -inf), raw the 16-bit logits they came from or None (see `nucleus_edge`)."""
    mass = masses(z)
    edge = nucleus_edge(z, mass, top_p, raw)
    if raw is not None:
        edge = edge.float() / temperature  # the arithmetic that made z from raw: the same value
    return sample_nucleus(z, mass, edge, log_min_p, uniforms)


TIE_SLACK = 64  # candidates beyond the k-th kept for tokens tied with it (bf16 logits tie often)


def _sample_among_top_k(
    logits: torch.Tensor, temperature: float | torch.Tensor, k: int | torch.Tensor, k_max: int,
    top_p: float | torch.Tensor, log_min_p: float | torch.Tensor | None, uniforms: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Tokens and their sampling log-probs under temperature, top-k, top-p and min-p, computed on
    each row's k_max + TIE_SLACK most likely tokens alone: the distribution `process_logits`
    gives (tokens tied with the k-th kept, up to TIE_SLACK of them), at the cost of a few hundred
    candidates instead of the vocabulary. temperature, k, top_p and log_min_p are numbers or
    [batch, 1] tensors (each row's own; top_p 1 and log(min_p) -inf or None turn a limit off)."""
    values, indices = logits.topk(min(k_max + TIE_SLACK, logits.shape[-1]), dim=-1)  # most likely first
    scaled = values / temperature
    if not isinstance(k, torch.Tensor):  # a gather, not a slice at k: inductor mis-slices a fused tensor at a symbolic offset
        k = torch.full((scaled.shape[0], 1), k, device=scaled.device)
    kth = scaled.gather(-1, (k - 1).clamp(min=0))
    scaled = scaled.masked_fill((scaled < kth) & (k > 0), -math.inf)
    if isinstance(top_p, torch.Tensor) or top_p < 1:
        # The nucleus from the sorted candidates: the running mass reaches p at the edge; ties with it stay.
        masses = scaled.double().sub_(scaled[:, :1]).exp_()
        short = (masses.cumsum(dim=-1) < top_p * masses.sum(dim=-1, keepdim=True)).sum(dim=-1, keepdim=True)
        edge = scaled.gather(-1, short.clamp_(max=scaled.shape[-1] - 1))
        scaled = scaled.masked_fill((scaled < edge) & (torch.as_tensor(top_p, device=scaled.device) < 1), -math.inf)
    if log_min_p is not None:
        scaled = scaled.masked_fill(scaled < scaled[:, :1] + log_min_p, -math.inf)
    choice = sample_from_logits(scaled, uniforms)
    return indices.gather(-1, choice[:, None]).squeeze(-1), token_logprobs(scaled, choice)


def _choose_per_row(
    logits: torch.Tensor, penalized: torch.Tensor, raw: torch.Tensor | None, params: RowSampling, keys: torch.Tensor,
    counters: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """`choose_tokens` with each row's own parameters: each row goes the way `choose_tokens`
    takes it alone (greedy, among its top-k candidates, over the vocabulary with top-p, or with
    `process_logits`' arithmetic row by row), so it gets the same token bit for bit."""
    greedy = penalized.argmax(dim=-1)
    if not params.sampled:
        return greedy, token_logprobs(logits, greedy), torch.zeros(greedy.shape, device=logits.device)
    temperature = params.temperature[:, None]
    safe = torch.where(temperature > 0, temperature, torch.ones_like(temperature))
    uniforms = counter_uniforms(keys, counters)
    sampled = temperature[:, 0] > 0
    tokens, sampling_logprobs = greedy, torch.zeros_like(temperature[:, 0])
    if params.full:
        processed = penalized / safe
        k = params.top_k[:, None]
        if params.top_k_max:
            kth = processed.topk(params.top_k_max, dim=-1).values.gather(-1, (k - 1).clamp(min=0))
            processed = processed.masked_fill((processed < kth) & (k > 0), -math.inf)
        whole = sampled & ~params.candidates
        nucleus = params.top_p < 1
        floor = params.log_min_p[:, None] if params.floor else None
        if params.nucleus:
            chosen, chosen_logprobs = _sample_top_p(processed, raw, safe, params.top_p[:, None], floor, uniforms)
            tokens = torch.where(whole & nucleus, chosen, tokens)
            sampling_logprobs = torch.where(whole & nucleus, chosen_logprobs, sampling_logprobs)
        if params.plain:
            if floor is not None:
                processed = processed.masked_fill(processed < processed.max(dim=-1, keepdim=True).values + floor, -math.inf)
            chosen = sample_from_logits(processed, uniforms)
            tokens = torch.where(whole & ~nucleus, chosen, tokens)
            sampling_logprobs = torch.where(whole & ~nucleus, token_logprobs(processed, chosen), sampling_logprobs)
    if params.candidate_k_max:
        floor = params.log_min_p[:, None] if params.floor else None
        chosen, chosen_logprobs = _sample_among_top_k(
            penalized, safe, params.top_k[:, None], params.candidate_k_max, params.top_p[:, None], floor, uniforms
        )  # fmt: skip
        use = sampled & params.candidates
        tokens = torch.where(use, chosen, tokens)
        sampling_logprobs = torch.where(use, chosen_logprobs, sampling_logprobs)
    return tokens, token_logprobs(logits, tokens), sampling_logprobs


def row_sampling(params: list[SamplingParams], device: torch.device, vocab_size: int) -> RowSampling:
    """The rows' parameters as device tensors (one host-to-device copy) with their host flags."""
    sampled = [p for p in params if not p.greedy]
    top_k = [p.top_k if 0 < p.top_k < vocab_size else 0 for p in params]
    candidates = [not p.greedy and _among_top_k(p.top_k, vocab_size) for p in params]
    whole = [p for p, c in zip(params, candidates) if not p.greedy and not c]  # sampled over the vocabulary
    floats = torch.tensor(
        [[p.temperature, math.log(p.min_p) if p.min_p > 0 else -math.inf] for p in params], dtype=torch.float32
    ).to(device)  # fmt: skip
    return RowSampling(
        temperature=floats[:, 0], top_k=torch.tensor(top_k, dtype=torch.long).to(device),
        top_p=torch.tensor([p.top_p for p in params], dtype=torch.float64).to(device), log_min_p=floats[:, 1],
        candidates=torch.tensor(candidates).to(device), top_k_max=max(top_k, default=0),
        candidate_k_max=max((p.top_k for p, c in zip(params, candidates) if c), default=0), sampled=bool(sampled),
        full=bool(whole), nucleus=any(p.top_p < 1 for p in whole), plain=any(p.top_p == 1 for p in whole),
        floor=any(p.min_p > 0 for p in sampled),
    )  # fmt: skip


def _among_top_k(top_k: int, vocab_size: int) -> bool:
    """Whether sampling with this top-k draws among its candidates alone (`_sample_among_top_k`)."""
    return 0 < top_k < vocab_size - TIE_SLACK


def counter_uniforms(keys: torch.Tensor, counters: torch.Tensor) -> torch.Tensor:
    """Uniform floats in [0, 1) from SplitMix64: draw number `counters` of the stream `keys`.

    Integer arithmetic wraps modulo 2^64 on every backend, so the numbers are the same on
    every device; shifts are made logical by masking, since torch's >> on int64 is arithmetic.
    """
    state = keys + (counters + 1) * _as_int64(_GOLDEN)
    return _shift_right(_mix(state), 40).float() * 2.0**-24  # 24 bits: exact in float32


def request_key(seed: int, *indices: int) -> int:
    """The int64 stream key of one request, e.g. (seed, prompt index, sample index)."""
    key = _mix_int(seed & _MASK64)
    for index in indices:
        key = _mix_int((key ^ index) + _GOLDEN)
    return _as_int64(key)


def _mix(z: torch.Tensor) -> torch.Tensor:
    z = (z ^ _shift_right(z, 30)) * _as_int64(_MIX1)
    z = (z ^ _shift_right(z, 27)) * _as_int64(_MIX2)
    return z ^ _shift_right(z, 31)


def _shift_right(z: torch.Tensor, bits: int) -> torch.Tensor:
    return (z >> bits) & ((1 << (64 - bits)) - 1)


def _mix_int(z: int) -> int:
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK64
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK64
    return z ^ (z >> 31)


def _as_int64(value: int) -> int:
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value
