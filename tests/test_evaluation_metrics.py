"""pass@k, maj@k, G-Pass@k, standard errors and paired comparisons against hand-computed numbers and brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from reasoning.evaluation.metrics import (
    G_PASS_THRESHOLDS,
    PairedDifference,
    g_pass_at_k,
    majority_at_k,
    mg_pass_at_k,
    mean_and_stderr,
    paired_difference,
    pass_at_k,
    report_ks,
)
from reasoning.scaling.voting import majority_vote


def test_pass_at_k_edge_cases():
    assert pass_at_k(5, 0, 3) == 0.0
    assert pass_at_k(5, 5, 3) == 1.0
    assert pass_at_k(4, 1, 4) == 1.0  # k = n: any correct sample is drawn
    assert pass_at_k(4, 0, 4) == 0.0
    assert pass_at_k(16, 1, 1) == pytest.approx(1 / 16, abs=1e-12)
    assert pass_at_k(16, 1, 4) == pytest.approx(4 / 16, abs=1e-12)  # one correct sample: k/n
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3, abs=1e-12)  # pass@1 is the fraction correct


@pytest.mark.parametrize("c", [0, 1, 2, 5, 9, 13, 16])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_pass_at_k_equals_the_fraction_of_k_subsets_holding_a_correct_sample(c, k):
    n = 16
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    expected = sum(any(samples[i] for i in subset) for subset in subsets) / len(subsets)
    assert abs(pass_at_k(n, c, k) - expected) < 1e-12


def test_pass_at_k_large_n_has_no_overflow():
    assert pass_at_k(10_000, 1, 100) == pytest.approx(0.01, abs=1e-12)
    assert 0.0 < pass_at_k(10_000, 3, 5_000) < 1.0


@pytest.mark.parametrize(("n", "c", "k"), [(4, -1, 1), (4, 5, 1), (4, 2, 0), (4, 2, 5)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError, match="need"):
        pass_at_k(n, c, k)


def test_report_ks():
    assert report_ks(1) == [1]
    assert report_ks(4) == [1, 2, 4]
    assert report_ks(6) == [1, 2, 4, 6]
    assert report_ks(16) == [1, 2, 4, 8, 16]
    with pytest.raises(ValueError):
        report_ks(0)


def vote_over_draws(groups, correct, k):
    """maj@k by brute force: every ordered draw of k distinct samples, voted by self-consistency's
    own `majority_vote` (ties to the group seen first), graded by the winning sample."""
    draws = list(itertools.permutations(range(len(groups)), k))
    total = 0.0
    for draw in draws:
        vote = majority_vote([None if groups[i] is None else str(groups[i]) for i in draw], equivalent=lambda a, b: a == b)
        total += vote.winner is not None and correct[draw[vote.winner]]
    return total / len(draws)


@pytest.mark.parametrize(
    ("groups", "correct"),
    [
        ([0, 1, 1, 2], [False, True, True, False]),
        ([2, 1, 1, 2, 0], [True, False, False, True, False]),  # ties between a right and a wrong group
        ([None, 0, None, 0, 1, 1], [False, False, False, False, True, True]),  # samples without an answer
        ([0, 1, 0, 1, 2, 2, 0], [True, False, True, True, False, False, True]),  # a group of mixed verdicts
        ([None, None, None], [True, True, True]),  # no votes at all
    ],
)
def test_majority_at_k_equals_the_vote_over_every_draw_of_k_samples(groups, correct):
    for k in range(1, len(groups) + 1):
        assert majority_at_k(groups, correct, k) == pytest.approx(vote_over_draws(groups, correct, k), abs=1e-12)


def test_majority_at_k_by_hand():
    assert majority_at_k([0, 1, 1, 2], [False, True, True, False], 4) == 1.0  # group 1 wins, right
    assert majority_at_k([2, 1, 1, 2], [True, False, False, True], 4) == 0.5  # a tie: either group is seen first
    assert majority_at_k([None, None, 3, None], [False, False, True, False], 4) == 1.0  # only sample 2 votes
    assert majority_at_k([None, None, 3, None], [False, False, True, False], 2) == pytest.approx(3 / 6)  # 3 pairs hold it
    assert majority_at_k([None, 0, None, 0, 1], [False] * 4 + [True], 5) == 0.0
    assert majority_at_k([None, None], [True, True], 2) == 0.0  # no votes: wrong


def test_majority_at_k_does_not_depend_on_the_order_of_the_samples():
    groups, correct = [0, 1, 1, 0, 2, None], [True, False, False, True, False, False]
    for k in range(1, 7):
        values = {
            round(majority_at_k([groups[i] for i in order], [correct[i] for i in order], k), 12)
            for order in itertools.permutations(range(6))
        }
        assert len(values) == 1, (k, values)


def test_majority_at_k_estimates_from_seeded_subsets_where_there_are_too_many():
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 3, size=16).tolist()
    correct = [group == 0 for group in groups]
    exact = majority_at_k(groups, correct, 8, subsets=math.comb(16, 8))  # every one of the 12,870 subsets
    estimate = majority_at_k(groups, correct, 8)  # more than 10,000: 10,000 drawn with seed 0
    assert estimate != exact and abs(estimate - exact) < 0.015  # 3 standard errors of 0.5 / sqrt(10,000)
    assert majority_at_k(groups, correct, 8) == estimate  # seeded: the same every time
    assert majority_at_k(groups, correct, 8, seed=1) != estimate


def test_majority_at_k_rejects_bad_input():
    with pytest.raises(ValueError, match="differ in length"):
        majority_at_k([0, 1], [True], 1)
    with pytest.raises(ValueError, match="need 1 <= k <= 2"):
        majority_at_k([0, 1], [True, False], 3)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        # C(5,3) = 10 draws: 1 right in 3, 2 right in 6, 3 right in 1
        (5, 3, 3, {0.0: 1.0, 0.25: 1.0, 0.5: 7 / 10, 0.75: 1 / 10, 1.0: 1 / 10, "mg": 2 / 3 * 1 / 10}),
        # C(8,4) = 70 draws: 1 right in 5, 2 in 30, 3 in 30, 4 in 5; mG sums P(>=3) and P(>=4), times 2/4
        (8, 5, 4, {0.0: 1.0, 0.25: 1.0, 0.5: 65 / 70, 0.75: 35 / 70, 1.0: 5 / 70, "mg": 2 / 4 * (35 + 5) / 70}),
        (8, 0, 4, {0.0: 0.0, 0.25: 0.0, 0.5: 0.0, 0.75: 0.0, 1.0: 0.0, "mg": 0.0}),
        (4, 4, 4, {0.0: 1.0, 0.25: 1.0, 0.5: 1.0, 0.75: 1.0, 1.0: 1.0, "mg": 2 / 4 * 2}),  # i = 3, 4 both certain
    ],
)
def test_g_pass_at_k_by_hand(n, c, k, expected):
    for tau in G_PASS_THRESHOLDS:
        assert g_pass_at_k(n, c, k, tau) == pytest.approx(expected[tau], abs=1e-12)
    assert mg_pass_at_k(n, c, k) == pytest.approx(expected["mg"], abs=1e-12)


@pytest.mark.parametrize(("n", "c", "k"), [(6, 2, 3), (7, 4, 5), (9, 5, 4), (10, 7, 6)])
def test_g_pass_at_k_is_the_share_of_k_subsets_with_enough_correct(n, c, k):
    right = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    share = lambda least: sum(sum(right[i] for i in subset) >= least for subset in subsets) / len(subsets)  # noqa: E731
    for tau in (0.0, 0.25, 0.3, 0.5, 0.75, 1.0):
        assert g_pass_at_k(n, c, k, tau) == pytest.approx(share(max(math.ceil(tau * k), 1)), abs=1e-12)
    assert g_pass_at_k(n, c, k, 0.0) == pytest.approx(pass_at_k(n, c, k), abs=1e-12)
    area = 2 / k * sum(share(i) for i in range(math.ceil(k / 2) + 1, k + 1))
    assert mg_pass_at_k(n, c, k) == pytest.approx(area, abs=1e-12)


def test_g_pass_at_k_rejects_bad_input():
    with pytest.raises(ValueError, match="threshold"):
        g_pass_at_k(4, 2, 2, 1.5)
    with pytest.raises(ValueError, match="need 1 <= k"):
        mg_pass_at_k(4, 2, 5)


def test_mean_and_stderr():
    # values 1, 2, 3, 4: mean 2.5, sample variance (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3
    mean, stderr = mean_and_stderr([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert stderr == pytest.approx(math.sqrt(5 / 3) / 2, abs=1e-15)
    assert mean_and_stderr([0.7]) == (0.7, 0.0)
    with pytest.raises(ValueError):
        mean_and_stderr([])


def test_identical_runs_differ_by_nothing():
    scores = [0.0, 0.25, 1.0, 0.5, 0.75]
    result = paired_difference(scores, scores, resamples=500)
    assert (result.mean, result.stderr, result.low, result.high) == (0.0, 0.0, 0.0, 0.0)
    assert (result.boot_low, result.boot_high) == (0.0, 0.0)
    assert result.problems == 5 and not result.significant


def test_a_run_better_on_every_problem_is_significant():
    b = [0.1, 0.2, 0.0, 0.5, 0.3, 0.4]
    a = [x + 0.2 + 0.05 * i for i, x in enumerate(b)]
    result = paired_difference(a, b, resamples=2_000)
    assert result.significant and 0.0 < result.boot_low < result.mean < result.boot_high
    assert result.low > 0.0
    flipped = paired_difference(b, a, resamples=2_000)
    assert flipped.significant and flipped.boot_high < 0.0


def test_paired_difference_stderr_by_hand():
    # differences 1, 0, 0, -1, 1: mean 0.2, sample variance (0.64 + 0.04 + 0.04 + 1.44 + 0.64) / 4 = 0.7
    a = [1.0, 1.0, 0.0, 0.0, 1.0]
    b = [0.0, 1.0, 0.0, 1.0, 0.0]
    result = paired_difference(a, b, resamples=1_000)
    stderr = math.sqrt(0.7 / 5)
    assert result.mean == pytest.approx(0.2, abs=1e-15)
    assert result.stderr == pytest.approx(stderr, abs=1e-15)
    assert result.low == pytest.approx(0.2 - 1.959964 * stderr, abs=1e-6)
    assert result.high == pytest.approx(0.2 + 1.959964 * stderr, abs=1e-6)
    assert not result.significant


def test_the_bootstrap_is_reproducible_by_seed():
    rng = np.random.default_rng(1)
    a, b = rng.random(50).tolist(), rng.random(50).tolist()
    first = paired_difference(a, b, resamples=1_000, seed=7)
    assert paired_difference(a, b, resamples=1_000, seed=7) == first
    assert paired_difference(a, b, resamples=1_000, seed=8) != first
    assert isinstance(first, PairedDifference)


def test_the_bootstrap_agrees_with_the_normal_interval_for_many_problems(monkeypatch):
    rng = np.random.default_rng(0)
    a = (rng.random(2_000) < 0.6).astype(float)
    b = (rng.random(2_000) < 0.5).astype(float)
    monkeypatch.setattr("reasoning.evaluation.metrics.BOOTSTRAP_CHUNK", 2_000 * 300)  # several chunks
    result = paired_difference(a, b, resamples=4_000)
    normal, boot = result.high - result.low, result.boot_high - result.boot_low
    assert abs(boot - normal) < 0.1 * normal
    assert result.low - 0.05 * normal < result.boot_low and result.boot_high < result.high + 0.05 * normal
    assert result.significant and result.boot_low > 0.0


def test_paired_difference_validates_its_arguments():
    with pytest.raises(ValueError, match="equal"):
        paired_difference([1.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="equal"):
        paired_difference([], [])
    with pytest.raises(ValueError, match="confidence"):
        paired_difference([1.0], [0.0], confidence=1.0)
