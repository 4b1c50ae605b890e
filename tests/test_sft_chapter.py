"""Chapter 8's offline toy run (`chapters/ch08_distillation.py` without a teacher) keeps the
student's run as the full mode does: refused without --resume or --overwrite, continued with
--resume (and --overwrite replaces it, as it always did)."""

from __future__ import annotations

import pytest

from reasoning.training.metrics import read_metrics
from test_chapters import run_chapter

pytestmark = pytest.mark.usefixtures("one_thread", "closed_endpoint")  # tiny models; the hub unreachable


def test_the_toy_run_refuses_resumes_or_replaces_the_students_run_as_asked(tmp_path, monkeypatch, capsys):
    out = tmp_path / "ch08"
    chapter = lambda *flags: run_chapter("ch08_distillation.py", "--out", out, *flags, monkeypatch=monkeypatch, capsys=capsys)
    first = chapter()
    metrics = read_metrics(out / "student" / "metrics.csv")
    student = [line for line in first.splitlines() if line.startswith("student (full fine-tuning)")]
    assert student, first

    with pytest.raises(SystemExit) as refused:
        chapter()
    err = capsys.readouterr().err
    assert refused.value.code == 2 and "already holds a training run" in err and "--resume" in err
    assert read_metrics(out / "student" / "metrics.csv") == metrics  # untouched

    resumed = chapter("--resume")
    assert "student: resuming from step 180 of 180" in resumed and student[0] in resumed
    assert read_metrics(out / "student" / "metrics.csv") == metrics  # finished: nothing trained again
