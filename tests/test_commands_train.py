"""`reasoning train grpo`, `train sft` and `reasoning plot` (`reasoning.commands.train`): the toy
task trained and plotted, a run directory refused before anything is loaded, old checkpoints
pruned, a resume that says what it found, and a run that outlives the reader of its output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reasoning.cli import main
from reasoning.evaluation.rundir import read_task
from reasoning.training.metrics import read_metrics

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest
BENCHMARKS = Path(__file__).parent / "data" / "benchmarks"


def test_cli_trains_toy_task_then_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from reasoning.cli import main

    out = tmp_path / "run"
    argv = ["train", "grpo", "--task", "toy-addition", "--steps", "2", "--prompts-per-step", "4", "--group-size", "4",
            "--eval-every", "0", "--scale-rewards", "false", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "step     2 reward" in printed
    rewards = [row["reward_mean"] for row in read_metrics(out / "metrics.csv")]
    assert f"mean reward {sum(rewards) / 2:.3f} over the first 2 steps, {sum(rewards) / 2:.3f} over the last 2 (of 2)" in printed
    saved = json.loads((out / "checkpoints" / "step-000002" / "trainer_state.json").read_text())
    assert saved["config"]["scale_rewards"] is False and saved["config"]["group_size"] == 4
    assert main(["plot", str(out / "metrics.csv"), "--out", str(tmp_path / "curves.png")]) == 0
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["train", "grpo", "--task", "math", "--out", str(tmp_path / "math")]) == 2  # no --model: one clear line
    assert "needs --model and --dataset" in capsys.readouterr().err


def test_the_cli_refuses_before_loading_anything(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    (out / "checkpoints" / "step-000150").mkdir(parents=True)
    monkeypatch.setattr("reasoning.rl.launch.load_setting", lambda *a, **k: pytest.fail("loaded a task before refusing"))
    assert main(["train", "grpo", "--task", "toy-addition", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "already holds a training run (checkpoints/step-000150)" in error and "--overwrite" in error
    assert "Traceback" not in error
    with pytest.raises(SystemExit):  # argparse: the two flags exclude each other
        main(["train", "grpo", "--task", "toy-addition", "--out", str(out), "--resume", "--overwrite"])


def test_the_held_out_evaluation_reads_a_benchmark_or_a_math500_file_without_the_training_problems(tmp_path, capsys):
    """A scripted model answers every question "The answer is 3." (greedy): right only for the
    GSM8K problem whose gold is 3, and for the MATH-500 problems whose gold is 3."""
    import scripted

    from conftest import MATH500_FILE
    from reasoning.checkpoint import save_pretrained
    from reasoning.evaluation.benchmarks import load_benchmark

    tokenizer = scripted.tokenizer()
    model = scripted.answering(tokenizer, {" The answer is 3.": scripted.SURE, " \\boxed{18}": scripted.SURE - 1})
    model_dir = save_pretrained(model, tokenizer, tmp_path / "scripted")
    gsm8k = load_benchmark("gsm8k", data_dir=BENCHMARKS)
    janet = tmp_path / "janet.jsonl"  # the one training problem, GSM8K's first: its gold is 18, not 3
    janet.write_text(json.dumps({"question": gsm8k.problems[0].question, "answer": gsm8k.problems[0].answer}) + "\n")
    common = ["train", "grpo", "--model", str(model_dir), "--steps", "1", "--prompts-per-step", "1", "--group-size", "2",
              "--max-new-tokens", "8", "--dtype", "float32", "--eval-every", "1"]  # fmt: skip

    def held_out_accuracy(*argv: str, out: str) -> float | None:
        assert main([*common, *argv, "--out", str(tmp_path / out)]) == 0, capsys.readouterr().err
        return read_metrics(tmp_path / out / "metrics.csv")[0]["eval_accuracy"]

    assert sorted(p.answer for p in gsm8k.problems[1:]).count("3") == 1
    assert held_out_accuracy("--dataset", str(janet), "--eval-bench", "gsm8k", "--eval-dir", str(BENCHMARKS), out="bench") == 1 / 4
    assert "eval 0.250" in capsys.readouterr().out
    _, records = read_task(tmp_path / "bench" / "eval" / "step-000001", "gsm8k")  # through the evaluation pipeline
    assert len(records) == 4 and sum(r["correct"] for r in records) == 1
    math500 = load_benchmark("math500", data=MATH500_FILE, limit=50)  # --eval-limit's default
    right = sum(math500.grade(problem, "The answer is 3.").correct for problem in math500.problems)
    assert held_out_accuracy("--dataset", str(janet), "--eval-data", str(MATH500_FILE), out="math500") == right / len(math500.problems)
    # Trained on the whole benchmark, nothing of it is held out: no evaluation.
    assert held_out_accuracy("--bench", "gsm8k", "--data-dir", str(BENCHMARKS), "--eval-bench", "gsm8k", "--eval-dir", str(BENCHMARKS), out="none") is None


def checkpoint_names(out: Path) -> list[str]:
    return sorted(path.name for path in (out / "checkpoints").iterdir())


def test_keep_last_keeps_the_newest_checkpoints_and_resume_says_what_it_found(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "sft", "--task", "toy-addition", "--steps", "3", "--checkpoint-every", "1", "--out", str(out)]
    assert main([*argv, "--keep-last", "2"]) == 0
    assert checkpoint_names(out) == ["step-000002", "step-000003"]  # step 1 deleted once step 3 was complete
    capsys.readouterr()

    (out / "checkpoints" / "step-000003" / "trainer_state.json").unlink()  # as if killed while saving step 3
    assert main([*argv, "--resume", "--keep-last", "1"]) == 0  # keep_last changes no result: a resume may change it
    assert "resuming from step 2 of 3\n" in capsys.readouterr().out
    assert checkpoint_names(out) == ["step-000003"]

    assert main([*argv, "--resume"]) == 0
    assert "resuming from step 3 of 3: the run is complete" in capsys.readouterr().out


def test_a_closed_stdout_never_ends_a_training_run(tmp_path):
    """`reasoning train sft ... | head -1`: the reader goes away, the run finishes its checkpoint and metrics."""
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "reasoning", "train", "sft", "--task", "toy-addition", "--steps", "3", "--eval-every", "1",
            "--out", str(out)]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before anything is printed
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0 and err == ""  # no traceback, no "Exception ignored"
    assert [row["step"] for row in read_metrics(out / "metrics.csv")] == [1, 2, 3]
    assert (out / "checkpoints" / "step-000003" / "trainer_state.json").is_file()
