"""Bad inputs every command shares: --model, a checkpoint's config, --data, --out, results
files, a full disk, a missing plotting library, and flag values (rows of error_table)."""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

from error_table import ErrorCase

RECORD = {"id": "p1", "prompt": "1+1?", "completion": "so \\boxed{2}", "gold": "2", "correct": True, "tokens": 3, "seconds": 0.1}


def results_file(tmp: Path, records: list[dict]) -> Path:
    """A former `eval math500` results file: its settings header, then `records`."""
    path = tmp / "run.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in [{"settings": {"model": "m"}}, *records]))
    return path


def a_file_as_model(tmp: Path, monkeypatch) -> dict:
    (tmp / "model.safetensors").write_bytes(b"not a directory")
    return {"weights": tmp / "model.safetensors"}


def in_a_runs_directory(tmp: Path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp)
    (tmp / "runs").mkdir()  # so "runs/step-7" is a path, not the hub id of an org "runs"
    return {"home": Path("~").expanduser()}


def config_with(content: bytes):
    def setup(tmp: Path, monkeypatch) -> dict:
        (tmp / "config.json").write_bytes(content)
        return {}

    return setup


def wrong_type_config() -> bytes:
    from reasoning.model.config import Qwen3Config

    return json.dumps({**Qwen3Config().to_hf(), "num_hidden_layers": "28"}).encode()


def latin1_dataset(tmp: Path, monkeypatch) -> dict:
    (tmp / "math.jsonl").write_bytes(b'{"problem": "1+1", "answer": "2", "unique_id": "a"}\n{"problem": "caf\xe9", "answer": "1"}\n')
    return {"data": tmp / "math.jsonl"}


def a_file_as_parent(tmp: Path, monkeypatch) -> dict:
    (tmp / "results").write_text("a file where a directory should be")
    return {}


def no_write_permission(tmp: Path, monkeypatch) -> dict:
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # tests may run as root, which chmod does not stop
    return {}


def full_disk_on_rewrite(tmp: Path, monkeypatch) -> dict:
    from reasoning.evaluation import rescore

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(rescore, "write_records", full)  # where `eval score --write` calls it
    return {"results": results_file(tmp, [RECORD])}


def incomplete_record(tmp: Path, monkeypatch) -> dict:
    incomplete = {key: value for key, value in RECORD.items() if key != "completion"} | {"id": "p2"}
    return {"results": results_file(tmp, [RECORD, incomplete])}


def no_matplotlib(tmp: Path, monkeypatch) -> dict:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    (tmp / "metrics.csv").write_text("step,reward_mean\n1,0.5\n")
    return {"results": results_file(tmp, [RECORD])}


EVAL = ("eval", "run", "--bench", "math500", "--model", "m")
FLAGS = [  # (argv, words): a bad value, refused in the flag's own words
    ((*EVAL, "--batch-size", "0"), "argument --batch-size: must be a positive integer, got 0"),
    ((*EVAL, "--limit", "-1"), "argument --limit: must be a positive integer, got -1"),
    ((*EVAL, "--n", "0"), "argument --n: must be a positive integer"),
    ((*EVAL, "--max-new-tokens", "0"), "argument --max-new-tokens: must be a positive integer"),
    ((*EVAL, "--temperature", "-1"), "argument --temperature: must be a number >= 0, got -1"),
    ((*EVAL, "--top-p", "0"), "argument --top-p: must be in (0, 1], got 0"),
    ((*EVAL, "--top-p", "1.5"), "argument --top-p: must be in (0, 1], got 1.5"),
    ((*EVAL, "--batch-size", "many"), "argument --batch-size: must be an integer, got 'many'"),
    (("generate", "--model", "m", "--prompt", "x", "--n", "0"), "argument --n: must be a positive integer"),
    (("generate", "--model", "m", "--prompt", "x", "--top-k", "-1"), "argument --top-k: must be an integer >= 0"),
    (("chat", "--model", "m", "--min-p", "2"), "argument --min-p: must be in [0, 1], got 2"),
    (("train", "grpo", "--steps", "0"), "argument --steps: must be a positive integer"),
    (("train", "grpo", "--temperature", "0"), "argument --temperature: must be a number > 0"),
    (("train", "grpo", "--top-p", "2"), "argument --top-p: must be in (0, 1]"),
]

CASES = [
    ErrorCase("model-is-a-file", ("info", "--model", "{weights}"), ("reasoning info: error: {weights} is a file, not a checkpoint directory",),
              a_file_as_model),
    *(ErrorCase(f"model-path-mistyped-{name}", ("info", "--model", name), ("does not exist", str(Path(name))), in_a_runs_directory)
      for name in ("./no-such-checkpoint", "runs/step-7", "runs/grpo/checkpoints/step-7")),
    ErrorCase("model-path-in-home-mistyped", ("info", "--model", "~/no-such-checkpoint"), ("does not exist", "{home}/no-such-checkpoint"),
              in_a_runs_directory),
    ErrorCase("model-directory-without-config", ("info", "--model", "{tmp}"), ("{tmp} is not a checkpoint directory: it has no config.json",)),
    ErrorCase("config-field-of-the-wrong-type", ("info", "--model", "{tmp}"),
              ("'num_hidden_layers' must be a positive integer, got '28'", "{tmp}/config.json"), lambda t, m: config_with(wrong_type_config())(t, m)),
    ErrorCase("config-not-utf8", ("info", "--model", "{tmp}"), ("{tmp}/config.json is not UTF-8",), config_with(b'{"model_type": "qwen3\xff"}')),
    ErrorCase("data-is-a-directory", (*EVAL, "--data", "{tmp}"), ("argument --data: {tmp} is a directory",), usage=True),
    ErrorCase("dataset-not-utf8", ("eval", "run", "--bench", "math500", "--model", "qwen3-0.6b-base", "--data", "{data}", "--out", "{tmp}/run"),
              ("{data}, line 2: not UTF-8 text",), latin1_dataset),
    ErrorCase("out-under-a-file", (*EVAL, "--out", "{tmp}/results/run.jsonl"),
              ("argument --out: cannot create {tmp}/results/run.jsonl: {tmp}/results is a file",), a_file_as_parent, usage=True),
    ErrorCase("out-without-write-permission", (*EVAL, "--out", "{tmp}/new/run.jsonl"),
              ("argument --out: cannot create {tmp}/new/run.jsonl: no permission to write in {tmp}",), no_write_permission, usage=True),
    ErrorCase("train-out-without-write-permission", ("train", "grpo", "--task", "toy-addition", "--out", "{tmp}/run"),
              ("argument --out: cannot create",), no_write_permission, usage=True),
    ErrorCase("score-write-on-a-full-disk", ("eval", "score", "{results}", "--write"), ("no space left on device writing {results}",),
              full_disk_on_rewrite),
    ErrorCase("score-record-without-completion", ("eval", "score", "{results}"), ("{results}, line 3: the record has no 'completion' field",),
              incomplete_record),
    ErrorCase("plot-without-matplotlib", ("plot", "{tmp}/metrics.csv", "--out", "{tmp}/curves.png"), ("pip install 'reasoning[plot]'",),
              no_matplotlib),
    ErrorCase("compare-plot-without-matplotlib", ("eval", "compare", "{results}", "--plot", "{tmp}/bars.png"), ("pip install 'reasoning[plot]'",),
              no_matplotlib),
    *(ErrorCase(f"flag-{'-'.join(argv[:2 if argv[0] in ('eval', 'train') else 1])}-{argv[-2].strip('-')}-{argv[-1]}", argv,
                (f"reasoning {' '.join(argv[:2 if argv[0] in ('eval', 'train') else 1])}: error:", words), usage=True)
      for argv, words in FLAGS),
]  # fmt: skip
