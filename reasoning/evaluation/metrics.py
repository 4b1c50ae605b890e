"""The statistics of reasoning-model evaluation: pass@k, maj@k, standard errors, paired comparisons.

Pure functions of per-sample or per-problem outcomes, with no torch: records in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

# Bootstrap index matrices are drawn this many entries at a time (32 MiB of int64), so that
# 10,000 resamples of thousands of problems never materialise at once.
BOOTSTRAP_CHUNK = 1 << 22


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct: 1 - C(n-c, k) / C(n, k).

    Chen et al. 2021 ("Evaluating Large Language Models Trained on Code"), computed as their
    product 1 - prod_{i=n-c+1}^{n} (1 - k / i), which never forms a huge binomial coefficient.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c} and n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k} and n={n}")
    if n - c < k:  # every k-subset holds a correct sample
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def report_ks(n: int) -> list[int]:
    """The k worth reporting for n samples: 1, 2, 4, ... up to n, and n itself."""
    if n < 1:
        raise ValueError(f"need n >= 1, got {n}")
    ks = [2**power for power in range(n.bit_length()) if 2**power <= n]
    return ks if ks[-1] == n else [*ks, n]


def majority_correct(groups: Sequence[int | None], correct: Sequence[bool], k: int) -> bool:
    """maj@k of one problem: whether the majority answer among its first k samples is correct.

    groups[i] is the equivalence group of sample i's answer (None: no answer, no vote), and
    correct[i] whether sample i is correct. A tie goes to the group seen first, as in
    `reasoning.scaling.voting`; the winner is graded by its first member. No votes: False.
    """
    if len(groups) != len(correct):
        raise ValueError(f"groups and correct differ in length: {len(groups)} and {len(correct)}")
    if not 1 <= k <= len(groups):
        raise ValueError(f"need 1 <= k <= {len(groups)} (the samples), got k={k}")
    votes: dict[int, int] = {}
    first: dict[int, int] = {}
    for index, group in enumerate(groups[:k]):
        if group is not None:
            votes[group] = votes.get(group, 0) + 1
            first.setdefault(group, index)
    if not votes:
        return False
    winner = max(votes, key=votes.__getitem__)  # the first of equal counts: dicts keep first-appearance order
    return bool(correct[first[winner]])


def mean_and_stderr(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean, std(ddof=1) / sqrt(N); the error is 0.0 for one value."""
    if len(values) == 0:
        raise ValueError("mean_and_stderr of no values")
    array = np.asarray(values, dtype=np.float64)
    if len(array) < 2:
        return float(array[0]), 0.0
    return float(array.mean()), float(array.std(ddof=1) / math.sqrt(len(array)))


@dataclass(frozen=True)
class PairedDifference:
    """Run A minus run B over the same problems: the mean difference and two intervals for it.

    low/high: the normal interval mean ± z·stderr (z = 1.96 at 95%). boot_low/boot_high: the
    percentile interval of a paired bootstrap over problems, which needs no normality (pass@1
    differences of a few hundred problems are lumpy).
    """

    problems: int
    mean: float
    stderr: float
    low: float
    high: float
    boot_low: float
    boot_high: float

    @property
    def significant(self) -> bool:
        """Whether the bootstrap interval excludes zero (the difference is unlikely to be noise)."""
        return self.boot_low > 0.0 or self.boot_high < 0.0


def paired_difference(
    a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> PairedDifference:
    """Compare two runs by their per-problem scores a[i], b[i] (e.g. pass@1) on the same problems.

    Pairing removes the between-problem variance that two independent intervals would count
    twice (Miller 2024, "Adding Error Bars to Evals"). The bootstrap resamples problem
    indices with replacement (Efron & Tibshirani 1993) and takes the percentile interval.
    """
    if len(a) != len(b) or len(a) == 0:
        raise ValueError(f"need two equal, non-empty lists of per-problem scores, got {len(a)} and {len(b)}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"need 0 < confidence < 1, got {confidence}")
    if resamples < 1:
        raise ValueError(f"need resamples >= 1, got {resamples}")
    diffs = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    mean, stderr = mean_and_stderr(diffs.tolist())
    z = NormalDist().inv_cdf((1.0 + confidence) / 2.0)

    rng = np.random.default_rng(seed)
    rows = max(1, BOOTSTRAP_CHUNK // len(diffs))
    means = np.concatenate([
        diffs[rng.integers(0, len(diffs), size=(min(rows, resamples - start), len(diffs)))].mean(axis=1)
        for start in range(0, resamples, rows)
    ])
    tail = (1.0 - confidence) / 2.0
    boot_low, boot_high = np.quantile(means, [tail, 1.0 - tail])
    return PairedDifference(
        problems=len(diffs),
        mean=mean,
        stderr=stderr,
        low=mean - z * stderr,
        high=mean + z * stderr,
        boot_low=float(boot_low),
        boot_high=float(boot_high),
    )
