"""Bad inputs and full disks of `convert`, `train sft`, `distill import` and `plot` (rows of error_table).

A full disk is simulated where the bytes go out: safetensors' `save_file` raising the error it
raises on a full disk (`SafetensorError`, "os error 28"), or a text write raising ENOSPC. Each
row checks that nothing half-written is left: no empty output directory, no temporary file or
directory, and the earlier checkpoint kept."""

from __future__ import annotations

import errno
import json
from pathlib import Path

from safetensors import SafetensorError

from error_table import ErrorCase

FULL_DISK = "Error while serializing: I/O error: No space left on device (os error 28)"


def fill_the_disk_after(monkeypatch, files: int) -> None:
    """safetensors writes `files` files, then finds the disk full."""
    from safetensors.torch import save_file

    import reasoning.checkpoint

    written = []

    def save(tensors, filename, metadata=None):
        if len(written) == files:
            Path(filename).write_bytes(b"half a tensor")  # what a full disk leaves mid-write
            raise SafetensorError(FULL_DISK)
        written.append(filename)
        save_file(tensors, filename, metadata=metadata)

    monkeypatch.setattr(reasoning.checkpoint, "save_file", save)


def leftovers(root: Path) -> list[str]:
    """Temporary files and directories under root (a write that failed left them)."""
    return sorted(str(path) for path in root.rglob("*") if path.name.endswith((".tmp", ".old")))


def convert_full_disk(tmp: Path, monkeypatch) -> dict:
    import reasoning.book
    from reasoning.model.config import Qwen3Config
    from reasoning.model.qwen3 import Qwen3Model

    pth = tmp / "model.pth"
    pth.write_bytes(b"a book checkpoint")
    config = Qwen3Config.from_name("0.6B", hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, num_kv_heads=1, head_dim=16)
    monkeypatch.setattr(reasoning.book, "load_book_checkpoint", lambda *a, **k: Qwen3Model(config))
    fill_the_disk_after(monkeypatch, 0)
    return {"pth": pth}


def nothing_converted(tmp: Path, values: dict) -> None:
    assert not (tmp / "hf").exists() and leftovers(tmp) == []


def users_directory(tmp: Path, monkeypatch) -> dict:
    (tmp / "mine").mkdir()
    (tmp / "mine" / "notes.txt").write_text("my notes")
    (tmp / "model.pth").write_bytes(b"not read: the directory is refused first")
    return {}


def users_files_alone(tmp: Path, values: dict) -> None:
    assert [path.name for path in (tmp / "mine").iterdir()] == ["notes.txt"]


def sft_full_disk_at_step_2(tmp: Path, monkeypatch) -> dict:
    fill_the_disk_after(monkeypatch, 3)  # step 1's checkpoint: model, optimizer and RNG files
    return {}


def step_1_kept(tmp: Path, values: dict) -> None:
    checkpoints = tmp / "run" / "checkpoints"
    assert sorted(path.name for path in checkpoints.iterdir()) == ["step-000001"]
    assert (checkpoints / "step-000001" / "trainer_state.json").is_file() and leftovers(tmp) == []


def traces_full_disk(tmp: Path, monkeypatch) -> dict:
    traces = tmp / "in.jsonl"
    traces.write_text(json.dumps({"problem": "1+1?", "thinking": "add", "answer": "\\boxed{2}"}) + "\n")
    write_text = Path.write_text

    def full(self, text, *args, **kwargs):
        if self.name.endswith(".tmp"):
            write_text(self, text[: len(text) // 2], *args, **kwargs)
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return write_text(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    return {"traces": traces}


def no_traces_written(tmp: Path, values: dict) -> None:
    assert not (tmp / "out.jsonl").exists() and leftovers(tmp) == []


def empty_file(tmp: Path, monkeypatch) -> dict:
    (tmp / "empty.jsonl").write_text("")
    return {}


def unrelated_csv(tmp: Path, monkeypatch) -> dict:
    (tmp / "people.csv").write_text("name,age\nada,36\n")
    (tmp / "numbers.csv").write_text("step,height\n1,2.5\n")
    (tmp / "metrics.jsonl").write_text(json.dumps({"step": 1, "loss": 0.5}) + "\n")
    (tmp / "words.csv").write_text("step,loss\n1,low\n")
    return {}


WHAT_IT_SHOULD_BE = "pass the metrics.csv a `reasoning train grpo` or `reasoning train sft` run writes"

CASES: list[ErrorCase] = [
    ErrorCase(
        "convert-full-disk", ("convert", "{pth}", "{tmp}/hf"), ("no space left on device writing", "model.safetensors"),
        convert_full_disk, nothing_converted,
    ),
    ErrorCase(
        "convert-into-users-directory", ("convert", "{tmp}/model.pth", "{tmp}/mine"), ("{tmp}/mine holds other files and no checkpoint",),
        users_directory, users_files_alone,
    ),
    ErrorCase(
        "train-sft-full-disk",
        ("train", "sft", "--task", "toy-addition", "--steps", "2", "--checkpoint-every", "1", "--out", "{tmp}/run"),
        ("no space left on device writing", "step-000002"), sft_full_disk_at_step_2, step_1_kept,
    ),
    ErrorCase(
        "distill-import-full-disk", ("distill", "import", "{traces}", "--out", "{tmp}/out.jsonl"), ("no space left on device writing",),
        traces_full_disk, no_traces_written,
    ),
    ErrorCase("distill-import-empty", ("distill", "import", "{tmp}/empty.jsonl", "--out", "{tmp}/out.jsonl"), ("holds no traces",), empty_file),
    ErrorCase("plot-unrelated-csv", ("plot", "{tmp}/people.csv", "--out", "{tmp}/c.png"), ("no step column", WHAT_IT_SHOULD_BE), unrelated_csv),
    ErrorCase("plot-no-curves", ("plot", "{tmp}/numbers.csv", "--out", "{tmp}/c.png"), ("none of the curves", WHAT_IT_SHOULD_BE), unrelated_csv),
    ErrorCase("plot-metrics-jsonl", ("plot", "{tmp}/metrics.jsonl", "--out", "{tmp}/c.png"), ("no step column", WHAT_IT_SHOULD_BE), unrelated_csv),
    ErrorCase("plot-words", ("plot", "{tmp}/words.csv", "--out", "{tmp}/c.png"), ("line 2 holds a cell that is not a number",), unrelated_csv),
]
