"""The statistics of reasoning-model evaluation: pass@k, maj@k, G-Pass@k, standard errors, paired comparisons.

Pure functions of per-sample or per-problem outcomes, with no torch: records in, numbers out.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
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
    _check_counts(n, c, k)
    if n - c < k:  # every k-subset holds a correct sample
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def report_ks(n: int) -> list[int]:
    """The k worth reporting for n samples: 1, 2, 4, ... up to n, and n itself."""
    if n < 1:
        raise ValueError(f"need n >= 1, got {n}")
    ks = [2**power for power in range(n.bit_length()) if 2**power <= n]
    return ks if ks[-1] == n else [*ks, n]


# maj@k averages over every k-subset of a problem's n samples where there are at most this many,
# else over this many random k-subsets drawn with MAJORITY_SEED: the estimate's error on one
# problem is at most 0.5 / sqrt(10,000) = 0.005, and it shrinks further averaged over problems.
MAJORITY_SUBSETS = 10_000
MAJORITY_SEED = 0

# The thresholds tau lighteval reports G-Pass@k at (GPassAtK in huggingface/lighteval,
# src/lighteval/metrics/metrics_sample.py); tau 0.0 counts one correct sample, so it is pass@k.
G_PASS_THRESHOLDS = (0.0, 0.25, 0.5, 0.75, 1.0)


def majority_at_k(
    groups: Sequence[int | None], correct: Sequence[bool], k: int, *, subsets: int = MAJORITY_SUBSETS, seed: int = MAJORITY_SEED
) -> float:
    """maj@k of one problem: the chance that the majority answer of k samples drawn from its n is correct.

    groups[i] is the equivalence group of sample i's answer (None: no answer, no vote), and
    correct[i] whether sample i is correct. The k samples are drawn without replacement and
    in random order, as a fresh run of k would give them, and vote as `reasoning.scaling.voting`
    does: the largest group wins, a tie goes to the group seen first, and the winner is graded
    by its first sample. In random order the first sample of the tied groups is equally likely
    to be any of their samples, so a subset scores the share of correct samples among those of
    its largest groups (0 with no votes). The mean is exact over every k-subset when there are
    at most `subsets` of them, else a Monte-Carlo estimate over `subsets` drawn with `seed`.
    """
    if len(groups) != len(correct):
        raise ValueError(f"groups and correct differ in length: {len(groups)} and {len(correct)}")
    if not 1 <= k <= len(groups):
        raise ValueError(f"need 1 <= k <= {len(groups)} (the samples), got k={k}")
    ids = {group: position for position, group in enumerate(dict.fromkeys(g for g in groups if g is not None))}
    bins = len(ids) + 1  # one more bin, the last, for the samples without an answer, which never wins
    labels = np.array([bins - 1 if group is None else ids[group] for group in groups], dtype=np.int64)
    drawn = _k_subsets(len(groups), k, subsets, seed)
    rows = len(drawn)
    cells = (labels[drawn] + bins * np.arange(rows)[:, None]).ravel()  # (subset, group) as one index
    counts = np.bincount(cells, minlength=rows * bins).reshape(rows, bins)[:, :-1]
    hits = np.bincount(cells, weights=np.asarray(correct, dtype=np.float64)[drawn].ravel(), minlength=rows * bins)
    top = counts.max(axis=1, initial=0)[:, None]
    leading = (counts == top) & (top > 0)  # the groups tied for the most votes
    voters = (counts * leading).sum(axis=1)
    right = (hits.reshape(rows, bins)[:, :-1] * leading).sum(axis=1)
    return float(np.divide(right, voters, out=np.zeros(rows), where=voters > 0).mean())


@lru_cache(maxsize=64)
def _k_subsets(n: int, k: int, subsets: int, seed: int) -> np.ndarray:
    """Every k-subset of range(n) as rows when there are at most `subsets`, else `subsets` random
    ones drawn with `seed` (the same for every problem, so a summary is reproducible)."""
    if math.comb(n, k) <= subsets:
        drawn = np.array(list(itertools.combinations(range(n), k)), dtype=np.int64).reshape(-1, k)
    else:
        drawn = np.argsort(np.random.default_rng(seed).random((subsets, n)), axis=1)[:, :k]
    drawn.setflags(write=False)  # cached and shared by every problem
    return drawn


def g_pass_at_k(n: int, c: int, k: int, threshold: float) -> float:
    """G-Pass@k_tau: the chance that k samples drawn without replacement from n, c of them correct,
    hold at least ceil(tau * k) (and at least one) correct ones: a hypergeometric tail.

    Liu et al. 2024 ("Are Your LLMs Capable of Stable Reasoning?", arXiv:2412.13147), with the
    floor of one correct sample as lighteval's GPassAtK computes it (tau 0.0 is then pass@k).
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"need 0 <= threshold <= 1, got {threshold}")
    _check_counts(n, c, k)
    return _at_least(n, c, k, max(math.ceil(k * threshold), 1))


def mg_pass_at_k(n: int, c: int, k: int) -> float:
    """mG-Pass@k: 2 * the area under G-Pass@k_tau for tau from 0.5 to 1, as the sum
    (2 / k) * sum_{i = ceil(k / 2) + 1}^{k} G-Pass@k_{i / k} (Liu et al. 2024; lighteval's GPassAtK)."""
    _check_counts(n, c, k)
    return 2.0 * sum(_at_least(n, c, k, least) for least in range(math.ceil(k / 2) + 1, k + 1)) / k


def _at_least(n: int, c: int, k: int, least: int) -> float:
    """P(at least `least` correct among k drawn from n with c correct), in exact integers."""
    ways = sum(math.comb(c, j) * math.comb(n - c, k - j) for j in range(least, min(c, k) + 1))
    return ways / math.comb(n, k)


def _check_counts(n: int, c: int, k: int) -> None:
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c} and n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k} and n={n}")


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
