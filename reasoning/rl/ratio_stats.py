"""The sequence-level importance ratios of a GRPO step (GSPO's): their mean, min and max and the
share of sequences whose clip was active, over every micro-batch, pass and rank."""

from __future__ import annotations

import math

from reasoning import distributed
from reasoning.distributed import World
from reasoning.rl.losses import LossParts
from reasoning.rl.metrics import SEQUENCE_RATIO_COLUMNS as COLUMNS


class SequenceRatios:
    """Adds up the sequence ratios of each micro-batch's `LossParts`; token-level parts add nothing."""

    def __init__(self) -> None:
        self.sums = {"ratios": 0.0, "sequences": 0.0, "clipped": 0.0}
        self.extremes = {"max": -math.inf, "negated_min": -math.inf}

    def add(self, parts: LossParts) -> None:
        if parts.sequence_ratios is None or parts.clipped_sequences is None or not parts.sequence_ratios.numel():
            return
        ratios = parts.sequence_ratios.double()
        self.sums["ratios"] += float(ratios.sum())
        self.sums["sequences"] += ratios.numel()
        self.sums["clipped"] += float(parts.clipped_sequences)
        self.extremes["max"] = max(self.extremes["max"], float(ratios.max()))
        self.extremes["negated_min"] = max(self.extremes["negated_min"], -float(ratios.min()))

    def columns(self, level: str, world: World) -> dict[str, float | None]:
        """The step's columns (every rank calls this with the same level); None at the token level."""
        if level != "sequence":
            return dict.fromkeys(COLUMNS)
        sums, extremes = distributed.all_reduce_sums(self.sums, world), distributed.all_reduce_maxes(self.extremes, world)
        count = sums["sequences"]
        if not count:
            return dict.fromkeys(COLUMNS)
        return {
            "seq_ratio_mean": sums["ratios"] / count, "seq_ratio_min": -extremes["negated_min"], "seq_ratio_max": extremes["max"],
            "seq_clip_fraction": sums["clipped"] / count,
        }  # fmt: skip
