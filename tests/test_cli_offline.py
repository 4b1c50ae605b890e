"""Without the Hugging Face Hub: one fast, quiet line that names the flags that work offline;
files already in the local cache still load; and `reasoning --help` imports no torch."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time

import pytest
import torch

from reasoning import hub
from reasoning.checkpoint import load_pretrained
from reasoning.cli import main
from reasoning.training.toy import toy_tokenizer


def test_building_the_parser_imports_no_torch_and_no_hub_client():
    code = (
        "import reasoning.cli, sys; reasoning.cli.build_parser()\n"
        "print(sorted(m for m in ('torch', 'datasets', 'huggingface_hub', 'transformers', 'tokenizers', 'numpy') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_the_hub_probe_is_fast_and_honours_the_endpoint(monkeypatch, closed_endpoint):
    start = time.perf_counter()
    assert not hub.hub_reachable()
    assert time.perf_counter() - start < 1.0  # a refused connection is not waited out
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert hub.hub_reachable()
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        assert not hub.hub_reachable()  # offline mode: not even a connection is tried


def test_offline_eval_fails_at_once_quietly_naming_the_flags(tmp_path, capfd, monkeypatch, closed_endpoint):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    start = time.perf_counter()
    code = main(["eval", "run", "--bench", "math500", "--model", "qwen3-0.6b-base", "--limit", "1", "--out", str(tmp_path / "r.jsonl")])
    seconds = time.perf_counter() - start
    err = capfd.readouterr().err  # file descriptors: the libraries' loggers write there too
    assert code == 2 and seconds < 10
    assert err.count("\n") == 1 and err.startswith("reasoning eval: error: the Hugging Face Hub (http://127.0.0.1:")
    assert "--data-dir DIR" in err and "--data FILE" in err and "local checkpoint directory as --model" in err
    assert "reasoning train grpo --task toy-addition" in err
    assert "Retry" not in err and "Traceback" not in err


def test_offline_eval_run_names_the_data_dir(tmp_path, capfd, monkeypatch, closed_endpoint):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_DATASETS_CACHE", str(tmp_path / "empty-cache"), raising=False)
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "empty-datasets"))
    code = main(["eval", "run", "--bench", "aime24", "--model", "qwen3-0.6b", "--out", str(tmp_path / "run")])
    err = capfd.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "'HuggingFaceH4/aime_2024'" in err
    assert "--data-dir DIR" in err and "--data PATH" not in err and "Traceback" not in err


def test_offline_train_sft_names_the_benchmark_flags_and_its_own_toy_task(tmp_path, capfd, monkeypatch, closed_endpoint):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "empty-datasets"))
    data = tmp_path / "pairs.jsonl"
    data.write_text('{"prompt": "a", "response": "b"}\n')
    code = main(["train", "sft", "--model", "qwen3-0.6b", "--data", str(data), "--eval-bench", "aime24", "--out", str(tmp_path / "run")])
    err = capfd.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("reasoning train: error: the Hugging Face Hub")
    assert "--bench-dir DIR or --bench-data FILE" in err and "reasoning train sft --task toy-addition" in err
    assert "--data PATH" not in err and "Traceback" not in err


def test_weights_in_the_local_cache_load_offline(hf_checkpoint, tmp_path, monkeypatch, closed_endpoint):
    import huggingface_hub.constants

    reference, checkpoint = hf_checkpoint()
    toy_tokenizer().save_pretrained(checkpoint)
    repo = tmp_path / "hub" / "models--Qwen--Qwen3-0.6B-Base"  # huggingface_hub's cache layout
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(checkpoint, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))

    model, tokenizer = load_pretrained("qwen3-0.6b-base", device="cpu", dtype=torch.float32)
    assert torch.equal(model.embed_tokens.weight, reference.model.embed_tokens.weight)
    assert tokenizer.base and json.loads((repo / "snapshots" / commit / "config.json").read_text())["hidden_size"] == 64


def test_a_missing_model_offline_is_one_line_without_retries(tmp_path, capfd, monkeypatch, closed_endpoint):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    assert main(["info", "--model", "qwen3-0.6b"]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "'Qwen/Qwen3-0.6B' is not in the local cache" in err and "--model" in err


@pytest.mark.parametrize("name", ["qwen3-0.6b", "Qwen/Qwen3-0.6B", "qwen3-0.6b-base"])
def test_hub_names_are_not_taken_for_paths(name):
    assert not hub.looks_like_path(name)


@pytest.mark.parametrize(
    "argv, missing",
    [
        (["info", "--model", "qwen3-0.6b"], "'Qwen/Qwen3-0.6B'"),
        (["eval", "run", "--bench", "math500", "--model", "qwen3-0.6b", "--limit", "1"], "'HuggingFaceH4/MATH-500'"),
    ],
    ids=["info", "eval-run"],
)
def test_hf_hub_offline_stops_at_once_without_a_connection_and_says_why(argv, missing, tmp_path, capfd, monkeypatch, closed_endpoint):
    import datasets  # imported before the clock starts: its import is not what is timed
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "empty-datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    connections = []

    def refuse(*args, **kwargs):
        connections.append(args)
        raise OSError("this test allows no network connection")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    start = time.perf_counter()
    code = main([*argv, *(["--out", str(tmp_path / "run")] if argv[0] == "eval" else [])])
    seconds = time.perf_counter() - start
    err = capfd.readouterr().err
    assert code == 2 and connections == [] and seconds < 1.0
    assert err.count("\n") == 1 and "HF_HUB_OFFLINE is set, so the Hugging Face Hub is not used" in err
    assert f"{missing} is not in the local cache" in err
    assert "unset HF_HUB_OFFLINE to download it" in err and "unreachable" not in err
