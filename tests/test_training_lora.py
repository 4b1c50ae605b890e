"""GRPO with LoRA on the toy task: only adapters train, the KL reference is the base model with
the adapters off, checkpoints hold the adapter (PEFT's format) and resume exactly, --merge writes
a full checkpoint with the same logits."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from reasoning.checkpoint import load_pretrained
from reasoning.cli import main
from reasoning.generation import GenerationConfig
from reasoning.logprobs import teacher_forced_logprobs
from reasoning.lora import has_lora, load_lora, merge_lora, save_merged
from reasoning.rl import step
from reasoning.rl.config import GRPOConfig
from reasoning.rl.losses import group_advantages
from reasoning.rl.metrics import TIMING
from reasoning.rl.rollout import generate_rollouts, pack
from reasoning.rl.step import update
from reasoning.rl.trainer import prepare, train
from reasoning.training.checkpoints import latest_checkpoint, load_checkpoint
from reasoning.training.metrics import read_metrics
from reasoning.training.toy import toy_setting

pytest.importorskip("peft")
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest

LORA = GRPOConfig.from_name(
    "toy-addition", steps=4, prompts_per_step=8, group_size=4, checkpoint_every=2, eval_every=0, lora_rank=4,
    lora_alpha=8, lr=1e-2, beta=0.05, mu=2, dynamic_sampling="refill",
)  # fmt: skip
IDS = torch.tensor([[5, 9, 17, 3, 22, 40, 7, 11]])


def logits(model: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model.logits(model(IDS))


def base_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The non-adapter weights under plain names (PEFT moves `q_proj.weight` to `q_proj.base_layer.weight`)."""
    return {name.replace(".base_layer", ""): t.clone() for name, t in model.state_dict().items() if "lora_" not in name}


def lora_names(model: torch.nn.Module) -> set[str]:
    return {name for name, _ in model.named_parameters() if "lora_" in name}


def fixed_batch(toy):
    """Rollouts of 4 prompts x 4 samples and their advantages."""
    results = generate_rollouts(
        toy.model, toy.tokenizer, [p.question for p in toy.train.problems[:4]], GenerationConfig(n=4, max_new_tokens=8, temperature=1.0, seed=7)
    )  # fmt: skip
    rewards = torch.tensor([float(i % 3 == 0) for i in range(16)])
    return pack(results, 0), group_advantages(rewards, 4)


def test_only_adapters_get_gradients_and_optimizer_state_and_the_kl_reference_is_the_base(monkeypatch):
    toy = toy_setting(warmup_steps=30)
    base = copy.deepcopy(toy.model)
    batch, advantages = fixed_batch(toy)
    config = dataclasses.replace(LORA, mu=1, micro_batch_size=16)
    learner = prepare(toy.model, toy.tokenizer, config)
    assert learner.reference is None  # no second copy: the reference is the policy with its adapters off
    optimized = {id(p) for group in learner.optimizer.param_groups for p in group["params"]}
    named = dict(learner.model.named_parameters())
    assert optimized == {id(named[name]) for name in lora_names(learner.model)} and len(optimized) == 2 * 7 * 2
    references, grpo_loss = [], step.grpo_loss

    def recording(*args, ref_logprobs=None, **kwargs):
        references.append(ref_logprobs)
        return grpo_loss(*args, ref_logprobs=ref_logprobs, **kwargs)

    monkeypatch.setattr(step, "grpo_loss", recording)
    expected = teacher_forced_logprobs(base.train(), batch, config.temperature)[0].detach()
    first = update(learner, batch, advantages, torch.ones(16))
    assert first["kl"] == 0.0  # fresh adapters (B = 0): the policy is the base model
    assert all(named[name].grad is None for name in named if "lora_" not in name)
    stateful = {id(p) for p in learner.optimizer.state}
    assert {name for name, p in named.items() if id(p) in stateful} == lora_names(learner.model)
    second = update(learner, batch, advantages, torch.ones(16))
    assert second["kl"] > 0  # the adapters moved the policy away from the base
    assert len(references) == 2
    for reference in references:
        torch.testing.assert_close(reference, expected, rtol=1e-6, atol=1e-6)


def test_a_lora_run_moves_only_the_adapters_and_checkpoints_them_in_peft_format(tmp_path):
    toy = toy_setting(warmup_steps=30)
    base = copy.deepcopy(toy.model)
    learner = prepare(toy.model, toy.tokenizer, dataclasses.replace(LORA, steps=2), base_model="Qwen/Qwen3-0.6B")
    train(learner, toy.train, tmp_path)
    after, before = base_weights(learner.model), base_weights(base)
    assert after.keys() == before.keys() and all(torch.equal(after[name], before[name]) for name in before)  # bit-identical
    assert any(p.abs().max() > 0 for name, p in learner.model.named_parameters() if "lora_B" in name)  # B starts at 0
    directory = latest_checkpoint(tmp_path)
    files = {path.name for path in directory.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "optimizer.safetensors"} <= files
    assert not files & {"model.safetensors", "config.json"}  # the base weights never change: not saved again
    saved = json.loads((directory / "adapter_config.json").read_text())
    assert saved["base_model_name_or_path"] == "Qwen/Qwen3-0.6B" and saved["r"] == 4
    torch.testing.assert_close(logits(load_lora(base, directory)), logits(learner.model), rtol=0, atol=0)


def comparable(rows):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def test_lora_resume_equals_uninterrupted_run(tmp_path):
    toy = toy_setting(warmup_steps=30)
    whole = prepare(toy.model, toy.tokenizer, LORA)
    train(whole, toy.train, tmp_path / "whole")

    toy = toy_setting(warmup_steps=30)
    train(prepare(toy.model, toy.tokenizer, dataclasses.replace(LORA, steps=2)), toy.train, tmp_path / "split")
    torch.manual_seed(1234)  # the resumed run must restore every generator itself
    toy = toy_setting(warmup_steps=30)
    second = prepare(toy.model, toy.tokenizer, LORA)
    train(second, toy.train, tmp_path / "split", resume=True)

    expected, got = read_metrics(tmp_path / "whole" / "metrics.csv"), read_metrics(tmp_path / "split" / "metrics.csv")
    assert [row["step"] for row in got] == [1, 2, 3, 4]
    assert comparable(got) == comparable(expected)
    assert any(row["kl"] > 0 for row in got)
    for (name, p), q in zip(whole.model.named_parameters(), second.model.parameters()):
        assert torch.equal(p, q), name


def test_save_merged_writes_a_full_checkpoint_with_the_lora_models_logits(tmp_path):
    toy = toy_setting(warmup_steps=0)
    learner = prepare(toy.model, toy.tokenizer, LORA)
    with torch.no_grad():
        for name, p in learner.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)  # trained adapters: B is no longer 0
    adapted = logits(learner.model)
    merged, _ = load_pretrained(save_merged(learner.model, toy.tokenizer, tmp_path / "merged"), device="cpu", dtype=torch.float32)
    torch.testing.assert_close(logits(merged), adapted, rtol=1e-5, atol=1e-5)
    assert has_lora(learner.model) and torch.equal(logits(learner.model), adapted)  # the live model is untouched
    # Merged as written, weight by weight: the same bits as PEFT's merge of a copy.
    written = load_file(str(tmp_path / "merged" / "model.safetensors"))
    folded = merge_lora(copy.deepcopy(learner.model)).state_dict()
    assert {name.removeprefix("model.") for name in written} == set(folded)
    for name, tensor in written.items():
        assert torch.equal(tensor, folded[name.removeprefix("model.")]), name


def test_cli_merge_writes_the_merged_policy_and_refuses_without_lora(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    argv = ["train", "grpo", "--task", "toy-addition", "--steps", "1", "--prompts-per-step", "4", "--group-size", "4",
            "--eval-every", "0", "--lora-rank", "4", "--lr", "0.01", "--merge", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert f"merged: {out / 'merged'}" in capsys.readouterr().out
    adapted = load_lora(toy_setting().model, out / "checkpoints" / "step-000001")  # the CLI's base: the default task
    merged, _ = load_pretrained(out / "merged", device="cpu", dtype=torch.float32)
    torch.testing.assert_close(logits(merged), logits(adapted), rtol=1e-5, atol=1e-5)

    monkeypatch.setattr("reasoning.rl.launch.load_setting", lambda *a, **k: pytest.fail("loaded a task before refusing"))
    assert main(["train", "grpo", "--task", "toy-addition", "--merge", "--out", str(tmp_path / "full")]) == 2
    assert "--merge folds LoRA adapters into the weights: it needs --lora-rank > 0" in capsys.readouterr().err


def test_bad_lora_settings_and_mismatched_checkpoints_are_refused(tmp_path):
    for bad in ({"lora_rank": -1}, {"lora_alpha": 0}):
        with pytest.raises(ValueError, match="lora_rank >= 0"):
            GRPOConfig(**bad)
    toy = toy_setting(warmup_steps=0)
    learner = prepare(toy.model, toy.tokenizer, dataclasses.replace(LORA, steps=1, beta=0.0, mu=1, dynamic_sampling="off"))
    with pytest.raises(ValueError, match="already has LoRA adapters"):
        prepare(learner.model, toy.tokenizer, LORA)
    train(learner, toy.train, tmp_path)
    full = prepare(toy_setting(warmup_steps=0).model, toy.tokenizer, dataclasses.replace(LORA, steps=2, lora_rank=0))
    with pytest.raises(ValueError, match="settings differ .* lora_rank"):
        train(full, toy.train, tmp_path, resume=True)
    with pytest.raises(ValueError, match="holds a LoRA adapter but the model has no adapters"):
        load_checkpoint(latest_checkpoint(tmp_path), full.model, full.optimizer)


def fsdp_worker(rank: int, port: int, out: str) -> None:
    """Train LoRA GRPO for 2 steps on 2 processes, resume to 4, and run 4 at once."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        config = dataclasses.replace(LORA, dynamic_sampling="off", micro_batch_size=3)
        for directory, steps, resume in (("run", 2, False), ("run", 4, True), ("whole", 4, False)):
            toy = toy_setting(warmup_steps=30)
            learner = prepare(toy.model, toy.tokenizer, dataclasses.replace(config, steps=steps))
            train(learner, toy.train, f"{out}/{directory}", resume=resume)
        if rank == 0:
            save_file(base_weights(learner.plain), f"{out}/base_after.safetensors")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # two processes, each starting torch
def test_two_process_fsdp_lora_run_resumes_exactly_and_keeps_the_base(tmp_path):
    import socket

    import torch.distributed as dist
    import torch.multiprocessing as mp

    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("needs torch.distributed with gloo")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(fsdp_worker, args=(port, str(tmp_path)), nprocs=2, join=True)

    resumed, whole = (read_metrics(tmp_path / d / "metrics.csv") for d in ("run", "whole"))
    assert [row["step"] for row in resumed] == [1, 2, 3, 4]
    for a, b in zip(comparable(resumed), comparable(whole), strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert (a[key] is None and b[key] is None) or a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), (a["step"], key)
    assert any(row["kl"] > 0 for row in resumed)
    adapters = [load_file(str(tmp_path / d / "checkpoints" / "step-000004" / "adapter_model.safetensors")) for d in ("run", "whole")]
    assert any(name.endswith("lora_B.weight") and t.abs().max() > 0 for name, t in adapters[1].items())
    for name, tensor in adapters[1].items():
        assert torch.allclose(adapters[0][name], tensor, rtol=1e-5, atol=1e-7), name
    assert not (tmp_path / "run" / "checkpoints" / "step-000004" / "model.safetensors").exists()
    base = base_weights(toy_setting(warmup_steps=30).model)
    after = load_file(str(tmp_path / "base_after.safetensors"))
    assert after.keys() == base.keys() and all(torch.equal(after[name], base[name]) for name in base)


def test_a_model_that_came_with_adapters_keeps_them_in_its_kl_reference():
    """Without lora_rank the policy's adapters are trained as given (full fine-tuning of what
    requires grad); the reference is then a frozen copy of that starting policy, not its base."""
    from reasoning.lora import LoraSettings, add_lora

    toy = toy_setting(warmup_steps=30)
    add_lora(toy.model, LoraSettings(rank=4, alpha=8))
    with torch.no_grad():
        for name, parameter in toy.model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)  # adapters that change the model
    batch, advantages = fixed_batch(toy)
    learner = prepare(toy.model, toy.tokenizer, dataclasses.replace(LORA, lora_rank=0, mu=1, micro_batch_size=16))
    assert learner.reference is not None and has_lora(learner.reference)
    stats = update(learner, batch, advantages, torch.ones(16))
    assert stats["kl"] == pytest.approx(0.0, abs=1e-9)  # the first update starts at the reference


def test_adapters_start_from_the_seed_and_leave_torchs_random_streams_alone():
    from reasoning.lora import LoraSettings, add_lora
    from reasoning.model.qwen3 import Qwen3Model
    from reasoning.training.toy import TOY_CONFIG

    def adapters(seed: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        torch.manual_seed(123)
        model = add_lora(Qwen3Model(TOY_CONFIG), LoraSettings(rank=4), seed=seed)
        return {name: p.detach().clone() for name, p in model.named_parameters() if "lora_A" in name}, torch.rand(4)

    first, after = adapters(0)
    again, _ = adapters(0)
    other, _ = adapters(1)
    assert first.keys() == again.keys() == other.keys() and first
    assert all(torch.equal(first[name], again[name]) for name in first)
    assert not any(torch.equal(first[name], other[name]) for name in first)
    torch.manual_seed(123)
    Qwen3Model(TOY_CONFIG)
    assert torch.equal(after, torch.rand(4))  # the global stream went on as if no adapter had been drawn


def test_two_lora_sft_runs_of_a_checkpoint_with_one_seed_are_bit_equal_and_another_seed_differs(tmp_path, capsys):
    """Nothing seeds torch before a checkpoint loads: the adapters' start must come from the run's seed."""
    from safetensors.torch import load_file as read

    from reasoning.checkpoint import save_pretrained
    from reasoning.model.qwen3 import Qwen3Model
    from reasoning.training.toy import TOY_CONFIG, toy_tokenizer

    model_dir = save_pretrained(Qwen3Model(TOY_CONFIG), toy_tokenizer(), tmp_path / "model")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": f"{i}+{i}=", "response": f"{2 * i}"}) + "\n" for i in range(4)))

    def run(name: str, *seed: str) -> tuple[list[float], dict[str, torch.Tensor]]:
        out = tmp_path / name
        argv = ["train", "sft", "--model", str(model_dir), "--data", str(pairs), "--lora-rank", "4", "--steps", "2",
                "--batch-size", "2", "--dtype", "float32", "--lr", "1e-2", "--max-length", "16", "--out", str(out), *seed]  # fmt: skip
        assert main(argv) == 0, capsys.readouterr().err
        losses = [row["loss"] for row in read_metrics(out / "metrics.csv")]
        return losses, read(out / "checkpoints" / "step-000002" / "adapter_model.safetensors")

    (losses, adapters), (losses_again, adapters_again) = run("a"), run("b")
    assert losses == losses_again and adapters.keys() == adapters_again.keys()
    assert all(torch.equal(adapters[name], adapters_again[name]) for name in adapters)
    _, other = run("c", "--seed", "1")
    assert not any(torch.equal(adapters[name], other[name]) for name in adapters if "lora_A" in name)


def test_two_lora_grpo_runs_with_one_seed_are_bit_equal(tmp_path):
    config = dataclasses.replace(LORA, steps=1, beta=0.0, mu=1, dynamic_sampling="off")

    def run(name: str) -> tuple[list[dict], dict[str, torch.Tensor]]:
        toy = toy_setting(warmup_steps=2)
        torch.manual_seed(len(name))  # another global state before each run: the adapters must not depend on it
        train(prepare(toy.model, toy.tokenizer, config), toy.train, tmp_path / name)
        return comparable(read_metrics(tmp_path / name / "metrics.csv")), load_file(latest_checkpoint(tmp_path / name) / "adapter_model.safetensors")

    (rows, adapters), (rows_again, adapters_again) = run("a"), run("bb")
    assert rows == rows_again and all(torch.equal(adapters[name], adapters_again[name]) for name in adapters)
