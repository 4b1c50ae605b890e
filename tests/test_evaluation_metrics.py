"""pass@k, maj@k, standard errors and paired comparisons against hand-computed numbers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from reasoning.evaluation.metrics import (
    PairedDifference,
    majority_correct,
    mean_and_stderr,
    paired_difference,
    pass_at_k,
    report_ks,
)


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


def test_majority_correct_picks_the_most_voted_group():
    groups = [0, 1, 1, 2]
    assert majority_correct(groups, [False, True, True, False], 4) is True
    assert majority_correct(groups, [True, False, True, True], 4) is False  # graded by the group's first member


def test_majority_correct_breaks_ties_by_first_appearance():
    groups = [2, 1, 1, 2]
    assert majority_correct(groups, [True, False, False, True], 4) is True  # 2 and 1 tie: 2 came first
    assert majority_correct(groups, [False, True, True, False], 4) is False


def test_majority_correct_ignores_samples_without_an_answer():
    groups = [None, None, 3, None]
    assert majority_correct(groups, [False, False, True, False], 4) is True
    assert majority_correct([None, 0, None, 0, 1], [False, False, False, False, True], 5) is False


def test_majority_correct_without_any_answer_is_wrong():
    assert majority_correct([None, None], [True, True], 2) is False


def test_majority_correct_counts_only_the_first_k_samples():
    groups = [0, 1, 1, 0, 0]
    correct = [True, False, False, True, True]
    assert majority_correct(groups, correct, 1) is True  # group 0 alone
    assert majority_correct(groups, correct, 3) is False  # group 1 leads 2 to 1
    assert majority_correct(groups, correct, 4) is True  # a 2-2 tie, group 0 first
    assert majority_correct(groups, correct, 5) is True


def test_majority_correct_validates_its_arguments():
    with pytest.raises(ValueError, match="differ"):
        majority_correct([0, 1], [True], 1)
    with pytest.raises(ValueError, match="need"):
        majority_correct([0, 1], [True, False], 3)


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
