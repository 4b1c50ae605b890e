"""Top-p (nucleus) sampling over the whole vocabulary without a sort: find the lowest value kept
by a radix select on the probability mass, then draw among the tokens at or above it.

A descending sort of 151,936 logits costs ~35 ms per batch of 8 on a 2-core CPU; the radix
select reads the vocabulary a fixed few times (one histogram pass for the 16-bit logits a bf16
or float16 model gives, two for float32), waits on nothing on the host and does not break a
compiled graph. It finds the set a sort and a running sum find: ties share a key, so they
share a bin and stay together.
"""

from __future__ import annotations

import torch

_BINS = 1 << 16  # 16 bits of a key per pass: two passes select one of 2^32 keys


def masses(z: torch.Tensor) -> torch.Tensor:
    """exp(z - peak) in float64 [..., vocab]: unnormalised probabilities whose sums do not drift
    (a float32 running sum of 151,936 probabilities drifts by up to ~1e-4, enough to cut
    thousands of tokens off a long tail and keep less than p)."""
    return z.double().sub_(z.amax(dim=-1, keepdim=True)).exp_()


def nucleus_edge(z: torch.Tensor, mass: torch.Tensor, p: float | torch.Tensor, raw: torch.Tensor | None = None) -> torch.Tensor:
    """The lowest value of z [..., vocab] that top-p keeps [..., 1]: the largest value whose tokens at
    or above it hold at least p of the mass (`masses(z)`); p a number or [..., 1].

    raw: the 16-bit logits z was computed from by an order-keeping map (a division by a
    temperature): then one histogram over their 2^16 keys finds the edge, each bin one value;
    the caller maps the returned raw value as it mapped raw. None: two passes over z's keys.
    """
    threshold = p * mass.sum(dim=-1, keepdim=True)
    if raw is None:
        return _radix_edge(_ordered_keys(z), mass, threshold)
    # Bins by bit pattern: 0x0000-0x7FFF are +0.0 up to +inf (and NaNs), 0x8000-0xFFFF -0.0 down to
    # -inf (and NaNs); the first half reversed, then the second, runs from the largest value down.
    half = _BINS // 2
    patterns = raw.view(torch.int16).long().bitwise_and_(0xFFFF)  # int16, not uint16: every backend has it
    bins = mass.new_zeros(*raw.shape[:-1], _BINS).scatter_add_(-1, patterns, mass)
    descending = torch.cat((bins[..., :half].flip(-1), bins[..., half:]), dim=-1)
    # No bin reaches the threshold when p is within rounding of 1: -inf's, to keep all.
    place = _bins_short(descending, threshold).clamp_(max=_NEGATIVE_INFINITY[raw.dtype])
    return torch.where(place < half, half - 1 - place, place - _BINS).to(torch.int16).view(raw.dtype)


_NEGATIVE_INFINITY = {torch.bfloat16: 0xFF80, torch.float16: 0xFC00}  # -inf's bit pattern: its place in the bins


def sample_nucleus(
    z: torch.Tensor, mass: torch.Tensor, edge: torch.Tensor | None, log_min_p: float | torch.Tensor | None, uniforms: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens [batch] drawn among each row's tokens with z >= edge (None: all) and z >= peak +
    log(min_p) (None: no floor), with probability proportional to their `masses`, and their
    log-probs under that distribution (float32): the inverse of the kept mass's running sum at
    uniforms [batch], in float64. A token of mass zero is never drawn. `mass` is overwritten."""
    cut = None if log_min_p is None else z.amax(dim=-1, keepdim=True) + log_min_p
    if edge is not None:
        cut = edge if cut is None else torch.maximum(edge, cut)
    kept = mass if cut is None else mass.masked_fill_(z < cut, 0.0)
    cdf = kept.cumsum(dim=-1)
    total = cdf[:, -1:]
    point = torch.minimum(uniforms[:, None].double() * total, torch.nextafter(total, torch.zeros_like(total)))
    choice = torch.searchsorted(cdf, point, right=True)
    return choice.squeeze(-1), (kept.gather(-1, choice).log_() - total.log()).squeeze(-1).float()


def _ordered_keys(z: torch.Tensor) -> torch.Tensor:
    """int32 keys that order as the float32 values z, the trick radix sorts of floats use: IEEE
    floats are sign and magnitude, so flipping the magnitude bits of the negative ones makes
    their bits order as two's complement integers. -0.0 gets -1, +0.0 0."""
    bits = z.view(torch.int32)
    return (bits >> 31).bitwise_and_(0x7FFFFFFF).bitwise_xor_(bits)


def _float_of_key(keys: torch.Tensor) -> torch.Tensor:
    """The float32 values of `_ordered_keys` keys (the bit flip is its own inverse)."""
    keys = keys.int()
    return (keys ^ ((keys >> 31) & 0x7FFFFFFF)).view(torch.float32)


def _radix_edge(keys: torch.Tensor, mass: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """The lowest float32 value kept [..., 1]: the largest key whose tokens at or above it hold mass >= threshold.

    Two fixed passes: a histogram of the mass over the keys' high 16 bits, summed from the top,
    finds the bucket where the running mass reaches the threshold; a histogram over the low 16
    bits of that bucket's keys (the tokens above the bucket in one extra bin on top, those below
    in one left out) finds the key. The bins add the masses in another order than a sorted
    running sum, so the two sets can differ only where a running mass lies within float64
    rounding of the threshold (in practice, p within ~1e-15 of 1, where the sorted sum's answer
    is a matter of rounding too).
    """
    half = _BINS // 2
    bins = mass.new_zeros(*keys.shape[:-1], _BINS).scatter_add_(-1, (keys >> 16).long().add_(half), mass)
    # No bucket reaches the threshold when p is within rounding of 1: the lowest, to keep all.
    short = _bins_short(bins.flip(-1), threshold).clamp_(max=_BINS - 1)
    base = (half - 1 - short) << 16  # the chosen bucket's lowest key
    index = (keys - (base - 1)).clamp_(0, _BINS + 1)  # 1 + low bits in the bucket; 0 below, _BINS + 1 above
    bins = mass.new_zeros(*keys.shape[:-1], _BINS + 2).scatter_add_(-1, index, mass)
    short = _bins_short(bins[..., 1:].flip(-1), threshold).clamp_(1, _BINS)  # the top bin is "above"
    return _float_of_key((base + _BINS - short).clamp_(min=-0x7F800000))  # at least -inf's key: keep all


def _bins_short(bins: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """How many leading bins hold less mass than the threshold together: the next one reaches it."""
    return (bins.cumsum(dim=-1) < threshold).sum(dim=-1, keepdim=True)
