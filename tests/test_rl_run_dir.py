"""A training run's directory: a fresh run never writes over another; --overwrite replaces it."""

from __future__ import annotations

import dataclasses
import json

import pytest

from reasoning.cli import main
from reasoning.rl.config import GRPOConfig
from reasoning.rl.state import RunExistsError
from reasoning.rl.tasks import toy_addition_task
from reasoning.rl.trainer import prepare, train

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest

TINY = GRPOConfig.from_name(
    "toy-addition", steps=2, prompts_per_step=4, group_size=2, checkpoint_every=1, eval_every=0, beta=0.0, mu=1,
)  # fmt: skip


def steps_logged(out):
    return [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]


def checkpoints(out):
    return sorted(path.name for path in (out / "checkpoints").glob("step-*"))


def test_a_fresh_run_refuses_a_directory_holding_a_run_and_overwrite_replaces_it(tmp_path):
    task = toy_addition_task(warmup_steps=2)
    train(prepare(task.model, task.tokenizer, TINY), task.train, tmp_path, prompt_fn=task.prompt_fn)
    metrics_before = (tmp_path / "metrics.csv").read_text()

    again = dataclasses.replace(TINY, steps=1)
    with pytest.raises(RunExistsError, match="--resume to continue it, --overwrite to replace it"):
        train(prepare(task.model, task.tokenizer, again), task.train, tmp_path, prompt_fn=task.prompt_fn)
    assert (tmp_path / "metrics.csv").read_text() == metrics_before  # nothing cut back
    assert checkpoints(tmp_path) == ["step-000001", "step-000002"]

    train(prepare(task.model, task.tokenizer, again), task.train, tmp_path, prompt_fn=task.prompt_fn, overwrite=True)
    assert steps_logged(tmp_path) == [1] and checkpoints(tmp_path) == ["step-000001"]  # the old step 2 is gone

    # A resume now continues the new run, not the old one's last checkpoint.
    rows = train(prepare(task.model, task.tokenizer, TINY), task.train, tmp_path, prompt_fn=task.prompt_fn, resume=True)
    assert [row["step"] for row in rows] == [2] and steps_logged(tmp_path) == [1, 2]


def test_resume_and_overwrite_together_are_refused(tmp_path):
    task = toy_addition_task(warmup_steps=2)
    with pytest.raises(ValueError, match="pass one"):
        train(prepare(task.model, task.tokenizer, TINY), task.train, tmp_path, prompt_fn=task.prompt_fn, resume=True, overwrite=True)


def test_the_cli_refuses_before_loading_anything(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    (out / "checkpoints" / "step-000150").mkdir(parents=True)
    monkeypatch.setattr("reasoning.rl.run.build_task", lambda *a, **k: pytest.fail("loaded a task before refusing"))
    assert main(["train", "grpo", "--task", "toy-addition", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "already holds a training run (checkpoints/step-000150)" in error and "--overwrite" in error
    assert "Traceback" not in error
    with pytest.raises(SystemExit):  # argparse: the two flags exclude each other
        main(["train", "grpo", "--task", "toy-addition", "--out", str(out), "--resume", "--overwrite"])
