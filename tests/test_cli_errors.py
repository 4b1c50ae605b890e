"""Expected failures end in one line on stderr (`reasoning <cmd>: error: ...`, exit code 2) that
names the path, field or flag at fault; never in a traceback."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reasoning.cli import main
from reasoning.model.config import Qwen3Config
from reasoning.training.toy import TOY_CONFIG, toy_tokenizer

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"
RECORD = {"id": "p1", "prompt": "1+1?", "completion": "so \\boxed{2}", "gold": "2", "correct": True, "tokens": 3, "seconds": 0.1}


def run(capsys, *argv: str) -> tuple[int, str]:
    """Exit code and stderr of `reasoning argv...`; argparse's exits count as a code too."""
    try:
        code = main([str(arg) for arg in argv])
    except SystemExit as exit:
        code = exit.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def one_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1, err
    return err


@pytest.fixture
def no_hub(monkeypatch):
    """Fail the test if anything asks the hub for files."""
    import huggingface_hub

    def refuse(*args, **kwargs):
        raise AssertionError("a local path was sent to the hub")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)


def write_results(path: Path, records: list[dict]) -> Path:
    lines = [{"settings": {"model": "m"}}, *records]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


# ---------------------------------------------------------------------------- --model


def test_model_given_a_file_says_it_is_not_a_checkpoint_directory(tmp_path, capsys, no_hub):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"not a directory")
    code, err = run(capsys, "info", "--model", weights)
    assert code == 2 and one_line(err).startswith("reasoning info: error: ")
    assert f"{weights} is a file, not a checkpoint directory" in err


@pytest.mark.parametrize("name", ["./no-such-checkpoint", "runs/step-7", "runs/grpo/checkpoints/step-7", "~/no-such-checkpoint"])
def test_a_mistyped_model_path_says_the_path_does_not_exist(name, tmp_path, capsys, monkeypatch, no_hub):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()  # so "runs/step-7" is a path, not the hub id of an org "runs"
    code, err = run(capsys, "info", "--model", name)
    assert code == 2 and "does not exist" in one_line(err) and str(Path(name).expanduser()) in err


def test_a_directory_without_config_json_is_not_a_checkpoint(tmp_path, capsys, no_hub):
    code, err = run(capsys, "info", "--model", tmp_path)
    assert code == 2 and f"{tmp_path} is not a checkpoint directory: it has no config.json" in one_line(err)


def test_a_config_field_of_the_wrong_type_names_the_field_and_the_file(tmp_path, capsys):
    config = {**Qwen3Config().to_hf(), "num_hidden_layers": "28"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    code, err = run(capsys, "info", "--model", tmp_path)
    assert code == 2 and "'num_hidden_layers' must be a positive integer, got '28'" in one_line(err)
    assert str(tmp_path / "config.json") in err


def test_a_config_that_is_not_utf8_names_the_file(tmp_path, capsys):
    (tmp_path / "config.json").write_bytes(b'{"model_type": "qwen3\xff"}')
    code, err = run(capsys, "info", "--model", tmp_path)
    assert code == 2 and f"{tmp_path / 'config.json'} is not UTF-8" in one_line(err)


# ---------------------------------------------------------------------------- --data and --out


def test_data_given_a_directory_is_refused_by_argparse(tmp_path, capsys):
    code, err = run(capsys, "eval", "run", "--bench", "math500", "--model", "m", "--data", tmp_path)
    assert code == 2 and f"argument --data: {tmp_path} is a directory" in err


def test_a_dataset_that_is_not_utf8_names_the_file_and_line(tmp_path, capsys, no_hub):
    data = tmp_path / "math.jsonl"
    data.write_bytes(b'{"problem": "1+1", "answer": "2", "unique_id": "a"}\n{"problem": "caf\xe9", "answer": "1"}\n')
    code, err = run(capsys, "eval", "run", "--bench", "math500", "--model", "qwen3-0.6b-base", "--data", data, "--out", tmp_path / "run")
    assert code == 2 and f"{data}, line 2: not UTF-8 text" in one_line(err)


def test_out_under_a_regular_file_names_the_file(tmp_path, capsys):
    parent = tmp_path / "results"
    parent.write_text("a file where a directory should be")
    code, err = run(capsys, "eval", "run", "--bench", "math500", "--model", "m", "--out", parent / "run.jsonl")
    assert code == 2 and f"argument --out: cannot create {parent / 'run.jsonl'}: {parent} is a file" in err


def test_out_in_a_directory_without_write_permission_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # tests may run as root, which chmod does not stop
    code, err = run(capsys, "eval", "run", "--bench", "math500", "--model", "m", "--out", tmp_path / "new" / "run.jsonl")
    assert code == 2 and f"argument --out: cannot create {tmp_path / 'new' / 'run.jsonl'}: no permission to write in {tmp_path}" in err
    code, err = run(capsys, "train", "grpo", "--task", "toy-addition", "--out", tmp_path / "run")
    assert code == 2 and "argument --out: cannot create" in err


def test_a_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    from reasoning.evaluation import rescore

    results = write_results(tmp_path / "run.jsonl", [RECORD])

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(rescore, "write_records", full)  # where `eval score --write` calls it
    code, err = run(capsys, "eval", "score", results, "--write")
    assert code == 2 and f"no space left on device writing {results}" in one_line(err)


# ---------------------------------------------------------------------------- results, pipes, plots


def test_score_names_the_line_of_a_record_without_its_completion(tmp_path, capsys):
    incomplete = {key: value for key, value in RECORD.items() if key != "completion"} | {"id": "p2"}
    results = write_results(tmp_path / "run.jsonl", [RECORD, incomplete])
    code, err = run(capsys, "eval", "score", results)
    assert code == 2 and f"{results}, line 3: the record has no 'completion' field" in one_line(err)


def test_a_closed_pipe_ends_quietly(tmp_path):
    results = write_results(tmp_path / "run.jsonl", [RECORD | {"id": f"p{i}"} for i in range(3)])
    process = subprocess.Popen(
        [sys.executable, "-m", "reasoning", "eval", "score", str(results)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    process.stdout.close()  # the reader is gone before anything is printed, as after `| head -1`
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err


def test_plots_without_matplotlib_say_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    metrics = tmp_path / "metrics.csv"
    metrics.write_text("step,reward_mean\n1,0.5\n")
    code, err = run(capsys, "plot", metrics, "--out", tmp_path / "curves.png")
    assert code == 2 and "pip install 'reasoning[plot]'" in one_line(err)
    results = write_results(tmp_path / "run.jsonl", [RECORD])
    code, err = run(capsys, "eval", "compare", results, "--plot", tmp_path / "bars.png")
    assert code == 2 and "pip install 'reasoning[plot]'" in one_line(err)


# ---------------------------------------------------------------------------- flags


@pytest.mark.parametrize(
    "argv, words",
    [
        (["eval", "run", "--bench", "math500", "--model", "m", "--batch-size", "0"], "argument --batch-size: must be a positive integer, got 0"),
        (["eval", "run", "--bench", "math500", "--model", "m", "--limit", "-1"], "argument --limit: must be a positive integer, got -1"),
        (["eval", "run", "--bench", "math500", "--model", "m", "--n", "0"], "argument --n: must be a positive integer"),
        (["eval", "run", "--bench", "math500", "--model", "m", "--max-new-tokens", "0"], "argument --max-new-tokens: must be a positive integer"),
        (["eval", "run", "--bench", "math500", "--model", "m", "--temperature", "-1"], "argument --temperature: must be a number >= 0, got -1"),
        (["eval", "run", "--bench", "math500", "--model", "m", "--top-p", "0"], "argument --top-p: must be in (0, 1], got 0"),
        (["eval", "run", "--bench", "math500", "--model", "m", "--top-p", "1.5"], "argument --top-p: must be in (0, 1], got 1.5"),
        (["eval", "run", "--bench", "math500", "--model", "m", "--batch-size", "many"], "argument --batch-size: must be an integer, got 'many'"),
        (["generate", "--model", "m", "--prompt", "x", "--n", "0"], "argument --n: must be a positive integer"),
        (["generate", "--model", "m", "--prompt", "x", "--top-k", "-1"], "argument --top-k: must be an integer >= 0"),
        (["chat", "--model", "m", "--min-p", "2"], "argument --min-p: must be in [0, 1], got 2"),
        (["train", "grpo", "--steps", "0"], "argument --steps: must be a positive integer"),
        (["train", "grpo", "--temperature", "0"], "argument --temperature: must be a number > 0"),
        (["train", "grpo", "--top-p", "2"], "argument --top-p: must be in (0, 1]"),
    ],
)
def test_bad_flag_values_are_refused_in_the_flags_words(argv, words, capsys):
    code, err = run(capsys, *argv)
    assert code == 2 and words in err and f"reasoning {' '.join(argv[:2 if argv[0] in ('eval', 'train') else 1])}: error:" in err


# ---------------------------------------------------------------------------- token ids


def test_token_ids_outside_the_vocabulary_are_a_clear_value_error():
    from reasoning.generation import generate
    from reasoning.model.qwen3 import Qwen3Model

    tokenizer = toy_tokenizer()
    with pytest.raises(ValueError, match=rf"token id -1 is outside the vocabulary \(ids 0 to {tokenizer.vocab_size - 1}, size {tokenizer.vocab_size}\)"):
        tokenizer.decode([5, -1])
    model = Qwen3Model(TOY_CONFIG).eval()
    with pytest.raises(ValueError, match=r"prompt 1: token id 128 is outside the model's vocabulary \(ids 0 to 127, size 128\)"):
        generate(model, tokenizer, [[1, 2], [3, 128]], max_new_tokens=2)
