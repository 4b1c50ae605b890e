"""The decode step: one token for every live row, the forward pass and the sampling together.

It reads nothing back to the host (positions, block tables, bans, penalties and random streams
are device tensors), so it runs eagerly or compiles as one graph (`CompiledStep`), under CUDA
graphs on a GPU. `ban_tokens` is thinking control's floor: a token a row may not choose next.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
import weakref
from typing import Protocol

import torch
from torch import nn
from torch.fx.experimental import _config as fx_config

from reasoning.generation.sampling import Penalties, RowSampling, SamplingParams, choose_tokens
from reasoning.model.paged import BlockPool, PagedKV

NO_BAN = -1
COMPILE_COST = "paid in every new process: about 3 minutes for the 0.6B model on a 2-core CPU; compile=False or --no-compile skips it"


class DecodeRows(Protocol):
    """The per-row device tensors a step reads (the engine's rows, live ones first)."""

    tokens: torch.Tensor  # next input token
    lengths: torch.Tensor  # positions cached
    tables: torch.Tensor  # block ids
    keys: torch.Tensor  # random stream
    counters: torch.Tensor  # draws made
    banned: torch.Tensor  # a token the row may not choose next; NO_BAN: none
    has_bans: bool  # whether any live row has one

    def penalties(self, start: int, stop: int) -> Penalties | None:
        """Rows start .. stop - 1's penalties and token counts; None when the run has no penalty."""

    def sampling(self, start: int, stop: int) -> RowSampling:
        """Rows start .. stop - 1's own sampling parameters (a run of mixed requests)."""


def ban_tokens(logits: torch.Tensor, banned: torch.Tensor | None) -> torch.Tensor:
    """Logits [batch, vocab] with token banned[row] of each row at -inf (NO_BAN: none; None:
    no row has one, nothing to do); no host sync."""
    if banned is None:
        return logits
    index = banned.clamp(min=0)[:, None]
    kept = logits.gather(1, index)
    return logits.scatter(1, index, torch.where(banned[:, None] == NO_BAN, kept, -math.inf))


def decode_step(
    model: nn.Module, pool: BlockPool, tokens: torch.Tensor, lengths: torch.Tensor, tables: torch.Tensor,
    keys: torch.Tensor, counters: torch.Tensor, banned: torch.Tensor | None, params: SamplingParams | RowSampling,
    penalties: Penalties | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """One token for each row: the forward over its next input, then sampling. No host sync."""
    hidden = model(tokens[:, None], cache=PagedKV(pool, tables, lengths))
    return choose_tokens(ban_tokens(model.logits(hidden[:, -1]), banned), params, keys, counters, penalties)


def eager_step(model: nn.Module):
    """The decode step as it is, for the first `live` rows and `width` blocks of `rows`."""

    def step(pool: BlockPool, rows: DecodeRows, live: int, width: int, params: SamplingParams | None) -> tuple[torch.Tensor, ...]:
        return decode_step(
            model, pool, rows.tokens[:live], rows.lengths[:live], rows.tables[:live, :width], rows.keys[:live],
            rows.counters[:live], rows.banned[:live] if rows.has_bans else None,
            rows.sampling(0, live) if params is None else params, rows.penalties(0, live),
        )  # fmt: skip

    return step


class CompiledStep:
    """The decode step through torch.compile: one graph (fullgraph) for every batch and length.

    Inputs must never look special to the compiler: batches and table widths below 2 are
    padded to 2 (an idle row on the sink, a masked sink block), and sizes that happen to be
    equal are not assumed equal (duck shaping off); an engine of one row (streaming, chat)
    gets its own one-row graph. On CUDA the step runs under CUDA graphs (reduce-overhead),
    with batches and widths rounded up to powers of two so a few graphs serve every step.

    Penalties: their values are per-row tensors, so one graph serves every value; a run without
    penalties passes None and gets a graph that does no penalty work at all.

    Weights: while a model's weights stay as they were at its first compile, the graph is
    compiled with inductor's freezing (weights as constants; on CPU oneDNN then runs bf16
    linears on prepacked weights, about twice as fast). Once they change in place (a training
    step), or for models passed to `decode_with_live_weights`, a second graph reads them as
    inputs, so RL rollouts always decode with the current policy.
    """

    def __init__(self, model: nn.Module, single_row: bool) -> None:
        self.model, self.single_row = model, single_row
        self.cuda = next(model.parameters()).device.type == "cuda"

    def __call__(self, pool: BlockPool, rows: DecodeRows, live: int, width: int, params: SamplingParams | None) -> tuple[torch.Tensor, ...]:
        batch = live if self.single_row else max(live, 2)
        width = max(width, 2)
        if self.cuda:
            batch, width = min(_power_of_two(batch), rows.tokens.shape[0]), min(_power_of_two(width), rows.tables.shape[1])
        frozen = self.model not in _LIVE_WEIGHTS and _FROZEN_VERSIONS.setdefault(self.model, _weights_version(self.model)) == _weights_version(self.model)
        step = _compiled_steps(self.cuda)[frozen]
        first = step not in _STARTED
        if first:  # compiling takes minutes on a CPU: say so, or the run looks hung
            _STARTED.add(step)
            weights = "" if frozen else " that reads live weights"
            warnings.warn(f"compiling the decode step{weights} with torch.compile ({COMPILE_COST})", stacklevel=2)
            start = time.perf_counter()
        with torch._inductor.config.patch(freezing=frozen), fx_config.patch(use_duck_shape=False):
            chosen = step(
                self.model, pool, rows.tokens[:batch], rows.lengths[:batch], rows.tables[:batch, :width],
                rows.keys[:batch], rows.counters[:batch], rows.banned[:batch],
                rows.sampling(0, batch) if params is None else params, rows.penalties(0, batch),
            )  # fmt: skip
        if first:
            warnings.warn(f"compiled the decode step{weights} in {time.perf_counter() - start:.0f} s", stacklevel=2)
        return tuple(value[:live] for value in chosen)


def _frozen_weights_step(*args):
    return decode_step(*args)


def _live_weights_step(*args):
    return decode_step(*args)


@functools.cache
def _compiled_steps(cuda: bool) -> dict[bool, object]:
    """The compiled step by frozen-or-not. Two functions, so two code objects: torch.compile
    caches graphs per code object, and a frozen graph must never serve changed weights."""
    mode = "reduce-overhead" if cuda else None
    compile = functools.partial(torch.compile, dynamic=True, fullgraph=True, mode=mode)
    return {True: compile(_frozen_weights_step), False: compile(_live_weights_step)}


_STARTED: set[object] = set()  # the compiled steps called once already (compiled, or compiling)
_FROZEN_VERSIONS: weakref.WeakKeyDictionary[nn.Module, int] = weakref.WeakKeyDictionary()
_LIVE_WEIGHTS: weakref.WeakSet[nn.Module] = weakref.WeakSet()


def decode_with_live_weights(model: nn.Module) -> None:
    """Compiled decoding of `model` reads its weights at every step (training changes them)."""
    _LIVE_WEIGHTS.add(model)


def _weights_version(model: nn.Module) -> int:
    """Sum of the parameters' in-place modification counters: changes when any weight is written."""
    return sum(parameter._version for parameter in model.parameters())


def _power_of_two(value: int) -> int:
    return 1 << (value - 1).bit_length()
