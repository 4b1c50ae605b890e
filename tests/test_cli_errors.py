"""Expected failures end in one line on stderr (`reasoning <cmd>: error: ...`, exit code 2) that
names the path, field or flag at fault; never in a traceback."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from error_table import ErrorCase
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


# ---------------------------------------------------------------------------- pipes (bad inputs: the table below)


def test_a_closed_pipe_ends_quietly(tmp_path):
    results = write_results(tmp_path / "run.jsonl", [RECORD | {"id": f"p{i}"} for i in range(3)])
    process = subprocess.Popen(
        [sys.executable, "-m", "reasoning", "eval", "score", str(results)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    process.stdout.close()  # the reader is gone before anything is printed, as after `| head -1`
    err = process.stderr.read().decode()
    # Exit 0: the command did all its work (a training run or an evaluation carries on to write
    # its files); what it could not print, nobody was reading (see run_command).
    assert process.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err


def test_a_closed_stderr_never_ends_an_evaluation(tmp_path):
    """The progress bar's reader goes away (`2>&1 | head -1`): the run still writes every record and its summary."""
    from conftest import MATH500_FILE
    from reasoning.checkpoint import save_pretrained
    from reasoning.model.qwen3 import Qwen3Model
    from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer

    config = Qwen3Config.from_name("0.6B", hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, num_kv_heads=1, head_dim=16)
    model = save_pretrained(Qwen3Model(config), Qwen3Tokenizer(build_offline_tokenizer(), base=True), tmp_path / "tiny")
    argv = ["eval", "run", "--bench", "math500", "--model", model, "--data", MATH500_FILE, "--limit", "3", "--max-new-tokens", "4",
            "--out", tmp_path / "run"]  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "reasoning", *map(str, argv)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stderr.close()
    printed = process.stdout.read().decode()
    assert process.wait(timeout=120) == 0 and "records and summary.json" in printed
    assert json.loads((tmp_path / "run" / "summary.json").read_text())


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


# ---------------------------------------------------------------------------- the table of bad inputs

ERROR_CASES: list[ErrorCase] = [
    case for path in sorted(Path(__file__).parent.glob("errors_*.py")) for case in importlib.import_module(path.stem).CASES
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda case: case.id)
def test_bad_input_ends_in_one_clear_line(case, tmp_path, capsys, monkeypatch, no_hub):
    values = {"tmp": tmp_path, **(case.setup(tmp_path, monkeypatch) if case.setup else {})}
    code, err = run(capsys, *(part.format(**values) for part in case.argv))
    assert code == 2, err
    if case.usage:  # argparse's usage lines, then its one error line
        assert err.startswith("usage: ") and err.endswith("\n"), err
        err = err.splitlines()[-1] + "\n"
    one_line(err)
    for words in case.words:
        assert words.format(**values) in err
    if case.after:
        case.after(tmp_path, values)
