"""Training metrics files and curves (`reasoning.training.metrics`)."""

from __future__ import annotations

import pytest

from reasoning.training.metrics import curve, moving_average, plot_metrics


def test_moving_average_by_hand():
    assert moving_average([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    with pytest.raises(FileNotFoundError):
        plot_metrics("missing.csv", "x.png")


def test_per_step_curves_are_smoothed_and_evaluation_points_drawn_as_they_are(tmp_path):
    rows = [{"step": float(step), "loss": 1.0 / step, "eval_accuracy": None} for step in range(1, 21)]
    rows[9]["eval_accuracy"], rows[19]["eval_accuracy"] = 0.25, 0.83
    steps, values, smoothed = curve(rows, "loss", 4)
    assert steps == [float(step) for step in range(1, 21)] and smoothed == moving_average(values, 4)
    assert curve(rows, "eval_accuracy", 4) == ([10.0, 20.0], [0.25, 0.83], None)  # 0.83 stays 0.83, not 0.54
    pytest.importorskip("matplotlib")
    metrics = tmp_path / "metrics.csv"
    metrics.write_text("step,loss,eval_accuracy\n" + "".join(f"{int(r['step'])},{r['loss']},{r['eval_accuracy'] or ''}\n" for r in rows))
    assert plot_metrics(metrics, tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_a_resumed_log_keeps_one_line_ending(tmp_path):
    from reasoning.training.metrics import MetricsLog, read_metrics

    log = MetricsLog(tmp_path, ("step", "loss"))
    for step in (1, 2, 3):
        log.append({"step": step, "loss": 1.0 / step})
    resumed = MetricsLog(tmp_path, ("step", "loss"), resume_step=2)  # step 3 was lost with the run
    resumed.append({"step": 3, "loss": 0.25})
    data = (tmp_path / "metrics.csv").read_bytes()
    assert b"\r" not in data and data.count(b"\n") == 4
    assert [row["loss"] for row in read_metrics(tmp_path / "metrics.csv")] == [1.0, 0.5, 0.25]
