"""LoRA on our model through PEFT: only adapters train, PEFT's format loads on transformers' model
with the same logits, merging and disabling give what they should."""

from __future__ import annotations

import pytest
import torch

from reasoning.checkpoint import save_pretrained
from reasoning.lora import LoraSettings, add_lora, has_lora, load_lora, lora_disabled, merge_lora, save_lora
from reasoning.model.config import Qwen3Config
from reasoning.model.qwen3 import Qwen3Model
from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer

peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

TINY = Qwen3Config.from_name("0.6B", hidden_size=64, intermediate_size=128, num_layers=2, num_heads=4, num_kv_heads=2, head_dim=32)
IDS = torch.randint(0, 151_000, (2, 11), generator=torch.Generator().manual_seed(0))


def logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model.logits(model(IDS))


@pytest.fixture
def base() -> Qwen3Model:
    torch.manual_seed(0)
    return Qwen3Model(TINY).eval()


def trained_adapters(model: Qwen3Model, settings: LoraSettings = LoraSettings(rank=4, alpha=8)) -> Qwen3Model:
    """Adapters with non-zero weights (LoRA's B starts at zero, so a fresh adapter changes nothing)."""
    add_lora(model, settings)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_" in name:
                parameter.normal_(0, 0.05)
    return model


def test_only_the_adapters_train_and_a_fresh_adapter_changes_nothing(base):
    before = logits(base)
    add_lora(base, LoraSettings(rank=4, alpha=8))
    torch.testing.assert_close(logits(base), before)
    trainable = [name for name, p in base.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)
    assert len(trainable) == 2 * 7 * TINY.num_layers  # A and B on seven projections per layer
    loss = base.logits(base(IDS)).float().logsumexp(-1).mean()
    loss.backward()
    assert all(p.grad is None for name, p in base.named_parameters() if "lora_" not in name)


def test_a_saved_adapter_gives_our_logits_on_transformers_with_peft(base, tmp_path):
    save_pretrained(base, Qwen3Tokenizer(build_offline_tokenizer(), base=True), tmp_path / "base")
    trained_adapters(base)
    ours = logits(base)
    save_lora(base, tmp_path / "adapter")
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "base", dtype=torch.float32).eval()
    with_adapter = peft.PeftModel.from_pretrained(hf, tmp_path / "adapter").eval()
    with torch.no_grad():
        theirs = with_adapter(IDS).logits
    torch.testing.assert_close(theirs, ours, atol=1e-4, rtol=1e-4)


def test_load_merge_and_disable(base, tmp_path):
    plain = logits(base)
    trained_adapters(base)
    adapted = logits(base)
    assert not torch.allclose(adapted, plain, atol=1e-4)
    with lora_disabled(base):
        torch.testing.assert_close(logits(base), plain)
    torch.testing.assert_close(logits(base), adapted)  # back on
    save_lora(base, tmp_path / "adapter")
    torch.manual_seed(0)
    fresh = load_lora(Qwen3Model(TINY).eval(), tmp_path / "adapter")
    torch.testing.assert_close(logits(fresh), adapted)
    merge_lora(base)
    assert not has_lora(base) and not any("lora_" in name for name, _ in base.named_parameters())
    torch.testing.assert_close(logits(base), adapted, atol=1e-5, rtol=1e-5)


def test_save_merged_keeps_the_base_dtype_with_float32_adapters(base, tmp_path):
    from safetensors.torch import load_file

    from reasoning.lora import save_merged

    trained_adapters(base.to(torch.bfloat16))
    for name, parameter in base.named_parameters():
        if "lora_" in name:
            parameter.data = parameter.data.float()  # adapters kept in float32 over a bf16 model
    written = load_file(str(save_merged(base, None, tmp_path / "merged") / "model.safetensors"))
    assert {tensor.dtype for tensor in written.values()} == {torch.bfloat16}


def test_bad_settings_and_directories_are_refused(base, tmp_path):
    with pytest.raises(ValueError, match="targets"):
        LoraSettings(targets=("attn",))
    with pytest.raises(ValueError, match="rank"):
        LoraSettings(rank=0)
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        load_lora(base, tmp_path)
    with pytest.raises(ValueError, match="no LoRA"):
        save_lora(base, tmp_path / "none")
