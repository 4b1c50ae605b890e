"""Training metrics files and curves (`reasoning.training.metrics`)."""

from __future__ import annotations

import pytest

from reasoning.training.metrics import moving_average, plot_metrics


def test_moving_average_by_hand():
    assert moving_average([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    with pytest.raises(FileNotFoundError):
        plot_metrics("missing.csv", "x.png")
