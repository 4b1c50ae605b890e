"""A model is known by what it is: one fingerprint however it is spelled, another for other weights."""

from __future__ import annotations

import json
import shutil
import struct

import pytest

from conftest import make_hf_model, save_hf_checkpoint
from reasoning import fingerprint as fingerprint_module
from reasoning.fingerprint import fingerprint, identify


def test_spellings_of_one_checkpoint_are_one_model_and_other_weights_another(tmp_path, monkeypatch):
    directory = save_hf_checkpoint(make_hf_model(seed=0), tmp_path / "ckpt")
    monkeypatch.chdir(tmp_path)
    spellings = [str(directory), "ckpt", "ckpt/", "./ckpt", str(directory) + "/"]
    assert all(identify(name) == identify(spellings[0]) for name in spellings)
    assert identify("ckpt")["model"] == str(directory.resolve())
    copy = shutil.copytree(directory, tmp_path / "copy")
    assert fingerprint(copy) == fingerprint(directory)  # the same files elsewhere
    save_hf_checkpoint(make_hf_model(seed=1), tmp_path / "retrained")  # same shapes, so the same headers and sizes
    assert fingerprint(tmp_path / "retrained") != fingerprint(directory)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "rope_theta": 1.0}))
    assert fingerprint(copy) != fingerprint(directory)


def test_large_files_are_sampled_and_a_changed_block_changes_the_fingerprint(tmp_path, monkeypatch):
    monkeypatch.setattr(fingerprint_module, "_WHOLE_FILE", 1024)  # the tiny file counts as large
    directory = save_hf_checkpoint(make_hf_model(seed=0), tmp_path / "ckpt")
    weights = directory / "model.safetensors"
    before = fingerprint(directory)
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF  # inside the last sampled block
    weights.write_bytes(bytes(data))
    assert fingerprint(directory) != before


def test_an_adapter_is_known_with_its_base(tmp_path, monkeypatch):
    base = save_hf_checkpoint(make_hf_model(seed=0), tmp_path / "base")
    other = save_hf_checkpoint(make_hf_model(seed=1), tmp_path / "other")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(struct.pack("<Q", 2) + b"{}")
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(base), "r": 4}))
    on_base = fingerprint(adapter)
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(other), "r": 4}))
    assert fingerprint(adapter) != on_base
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(adapter), "r": 4}))
    assert len(fingerprint(adapter)) == 16  # an adapter naming itself ends, as loading refuses it


def test_names_that_are_not_checkpoints_on_disk(tmp_path):
    assert identify("qwen3-0.6b")["model"] == "Qwen/Qwen3-0.6B"  # an alias is its hub id (no cache here: no fingerprint)
    assert identify("toy-addition") == {"model": "toy-addition"}  # a model built in code
    (tmp_path / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="is not a safetensors file"):
        fingerprint(tmp_path)
