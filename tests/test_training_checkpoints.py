"""A training run's directory (`reasoning.training.checkpoints`): a fresh run never writes over
another; --overwrite replaces it; a resume continues the run that is there."""

from __future__ import annotations

import dataclasses
import json

import pytest

from reasoning.rl.config import GRPOConfig
from reasoning.rl.trainer import prepare, train
from reasoning.training.checkpoints import RunExistsError
from reasoning.training.toy import toy_setting

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest

TINY = GRPOConfig.from_name(
    "toy-addition", steps=2, prompts_per_step=4, group_size=2, checkpoint_every=1, eval_every=0, beta=0.0, mu=1,
)  # fmt: skip


def steps_logged(out):
    return [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]


def checkpoints(out):
    return sorted(path.name for path in (out / "checkpoints").glob("step-*"))


def test_a_fresh_run_refuses_a_directory_holding_a_run_and_overwrite_replaces_it(tmp_path):
    toy = toy_setting(warmup_steps=2)
    train(prepare(toy.model, toy.tokenizer, TINY), toy.train, tmp_path)
    metrics_before = (tmp_path / "metrics.csv").read_text()

    again = dataclasses.replace(TINY, steps=1)
    with pytest.raises(RunExistsError, match="--resume to continue it, --overwrite to replace it"):
        train(prepare(toy.model, toy.tokenizer, again), toy.train, tmp_path)
    assert (tmp_path / "metrics.csv").read_text() == metrics_before  # nothing cut back
    assert checkpoints(tmp_path) == ["step-000001", "step-000002"]

    train(prepare(toy.model, toy.tokenizer, again), toy.train, tmp_path, overwrite=True)
    assert steps_logged(tmp_path) == [1] and checkpoints(tmp_path) == ["step-000001"]  # the old step 2 is gone

    # A resume now continues the new run, not the old one's last checkpoint.
    rows = train(prepare(toy.model, toy.tokenizer, TINY), toy.train, tmp_path, resume=True)
    assert [row["step"] for row in rows] == [2] and steps_logged(tmp_path) == [1, 2]


def test_resume_and_overwrite_together_are_refused(tmp_path):
    toy = toy_setting(warmup_steps=2)
    with pytest.raises(ValueError, match="pass one"):
        train(prepare(toy.model, toy.tokenizer, TINY), toy.train, tmp_path, resume=True, overwrite=True)
