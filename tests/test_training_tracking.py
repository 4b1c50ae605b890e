"""Experiment tracking (`reasoning.training.tracking`, `--report-to`): the metrics rows streamed to
TensorBoard (its event file read back) and to Trackio (a stand-in module), and a missing package
refused in one line before anything loads."""

from __future__ import annotations

import sys
import types

import pytest

from reasoning.cli import main
from reasoning.training import tracking
from reasoning.training.metrics import read_metrics
from reasoning.training.tracking import RowStream, check_report_to, scalars

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest


def tensorboard_scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the event files under log_dir: name -> [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {name: [(event.step, event.value) for event in events.Scalars(name)] for name in events.Tags()["scalars"]}


def test_scalars_keep_the_finite_numbers_of_a_row_but_its_step():
    row = {"step": 3, "loss": 0.5, "groups_used": 4, "kl": None, "eval_accuracy": float("nan"), "flag": True, "name": "x"}
    assert scalars(row) == {"loss": 0.5, "groups_used": 4.0}


def test_tensorboard_receives_each_row_at_its_step(tmp_path):
    pytest.importorskip("tensorboard")
    stream = RowStream("tensorboard", tmp_path, project="test", config={})
    stream({"step": 1, "loss": 0.5, "reward_mean": 0.25, "kl": None})
    stream({"step": 2, "loss": 0.25, "reward_mean": 0.75, "kl": 0.125})
    stream.close()
    logged = tensorboard_scalars(tmp_path / tracking.TENSORBOARD_DIR)
    assert logged == {"loss": [(1, 0.5), (2, 0.25)], "reward_mean": [(1, 0.25), (2, 0.75)], "kl": [(2, 0.125)]}


def test_trackio_is_opened_once_with_the_run_and_config_and_given_each_row(tmp_path, monkeypatch):
    calls = []
    stub = types.SimpleNamespace(
        init=lambda **kwargs: calls.append(("init", kwargs)), log=lambda values, step: calls.append(("log", values, step)),
        finish=lambda: calls.append(("finish",)),
    )  # fmt: skip
    monkeypatch.setitem(sys.modules, "trackio", stub)
    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name: object())
    stream = RowStream("trackio", tmp_path / "run-a", project="reasoning-grpo", config={"lr": 0.1})
    assert calls == []  # nothing opened before the first row (ranks without rows open nothing)
    stream({"step": 1, "loss": 0.5})
    stream({"step": 2, "loss": 0.25, "eval_accuracy": None})
    stream.close()
    assert calls == [
        ("init", {"project": "reasoning-grpo", "name": "run-a", "config": {"lr": 0.1}}),
        ("log", {"loss": 0.5}, 1), ("log", {"loss": 0.25}, 2), ("finish",),
    ]  # fmt: skip


def test_none_writes_nothing_and_a_missing_package_says_how_to_install_it(tmp_path, monkeypatch):
    stream = RowStream("none", tmp_path, project="test", config={})
    stream({"step": 1, "loss": 0.5})
    stream.close()
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match=r"--report-to trackio needs the trackio package: pip install 'reasoning\[trackio\]'"):
        check_report_to("trackio")
    with pytest.raises(ValueError, match="report_to must be one of"):
        check_report_to("wandb")


def test_train_sft_streams_its_metrics_rows_to_tensorboard(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    out = tmp_path / "run"
    assert main(["train", "sft", "--task", "toy-addition", "--steps", "2", "--report-to", "tensorboard", "--out", str(out)]) == 0
    rows = read_metrics(out / "metrics.csv")
    logged = tensorboard_scalars(out / tracking.TENSORBOARD_DIR)
    assert logged["loss"] == [(int(row["step"]), pytest.approx(row["loss"], rel=1e-5)) for row in rows]
