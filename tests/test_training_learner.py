"""Setting a model up to train (`reasoning.training.learner`): gradient checkpointing changes no
update; the plain copy and the KL reference are what each trainer asks for."""

from __future__ import annotations

import pytest
import torch

from reasoning.generation import GenerationConfig
from reasoning.rl.config import GRPOConfig
from reasoning.rl.rollout import generate_rollouts, pack
from reasoning.rl.step import update
from reasoning.rl.trainer import prepare
from reasoning.training.toy import toy_setting

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest


def test_gradient_checkpointing_gives_the_same_update():
    states = []
    for checkpointing in (False, True):
        toy = toy_setting(warmup_steps=5)
        config = GRPOConfig.from_name("toy-addition", prompts_per_step=2, group_size=4, gradient_checkpointing=checkpointing)
        learner = prepare(toy.model, toy.tokenizer, config)
        assert hasattr(learner.model.layers[0].forward, "__wrapped__") == checkpointing
        results = generate_rollouts(toy.model, toy.tokenizer, ["1+2=", "3+3="], GenerationConfig(n=4, max_new_tokens=6, temperature=1.0, seed=1))
        stats = update(learner, pack(results, learner.pad_id), torch.tensor([1.0, -1, 0.5, -0.5] * 2), torch.ones(8))
        states.append((stats["grad_norm"], {k: v.clone() for k, v in learner.model.state_dict().items()}))
    assert states[0][0] == pytest.approx(states[1][0], rel=1e-5)
    for name, tensor in states[0][1].items():
        assert torch.allclose(tensor, states[1][1][name], atol=1e-6), name


def test_the_kl_reference_is_a_frozen_copy_only_for_a_kl_term_without_lora():
    config = GRPOConfig.from_name("toy-addition", beta=0.04)
    toy = toy_setting(warmup_steps=5)
    start = {name: tensor.clone() for name, tensor in toy.model.state_dict().items()}
    learner = prepare(toy.model, toy.tokenizer, config)
    assert learner.plain is learner.model  # one process: generation and saving use the model itself
    assert learner.reference is not None and not any(p.requires_grad for p in learner.reference.parameters())
    assert all(torch.equal(start[name], tensor) for name, tensor in learner.reference.state_dict().items())
    assert prepare(toy_setting(warmup_steps=0).model, toy.tokenizer, GRPOConfig.from_name("toy-addition")).reference is None
    pytest.importorskip("peft")
    lora = GRPOConfig.from_name("toy-addition", beta=0.04, lora_rank=4, lora_alpha=8)
    assert prepare(toy_setting(warmup_steps=0).model, toy.tokenizer, lora).reference is None  # the adapters switched off


def test_sft_adapters_get_the_configured_dropout():
    pytest.importorskip("peft")
    from reasoning.sft import trainer
    from reasoning.sft.config import SFTConfig

    toy = toy_setting(warmup_steps=0)
    learner = trainer.prepare(toy.model, toy.tokenizer, SFTConfig.from_name("toy", lora_rank=4, lora_dropout=0.25))
    dropouts = [module.p for name, module in learner.model.named_modules() if isinstance(module, torch.nn.Dropout) and "lora" in name]
    assert dropouts and set(dropouts) == {0.25}
    assert learner.reference is None and learner.model.training
