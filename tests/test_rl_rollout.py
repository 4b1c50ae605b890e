"""Rollouts: grouped, reproducible, and packed so the training forward sees exactly what was sampled."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reasoning.generation import GenerationConfig
from reasoning.logprobs import teacher_forced_logprobs
from reasoning.model.config import Qwen3Config
from reasoning.model.qwen3 import Qwen3Model
from reasoning.rl.rollout import generate_rollouts, pack

TINY = Qwen3Config(vocab_size=64, hidden_size=32, intermediate_size=48, num_layers=2, num_heads=4, num_kv_heads=2, head_dim=8, max_position_embeddings=64)  # fmt: skip
PROMPTS = [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10]]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest


@pytest.fixture(scope="module")
def model() -> Qwen3Model:
    torch.manual_seed(0)
    model = Qwen3Model(TINY).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.3)
    return model


def rollouts(model, seed=3, temperature=0.8):
    return generate_rollouts(model, None, PROMPTS, GenerationConfig(n=4, max_new_tokens=6, temperature=temperature, seed=seed))


def test_groups_are_ordered_by_prompt_and_reproducible(model):
    results = rollouts(model)
    assert [(r.prompt_index, r.sample_index) for r in results] == [(p, s) for p in range(3) for s in range(4)]
    assert [r.token_ids for r in results] == [r.token_ids for r in rollouts(model)]
    assert [r.token_ids for r in results] != [r.token_ids for r in rollouts(model, seed=4)]


def test_training_logprobs_equal_the_engines_sampling_logprobs(model):
    """In float32 the padded training forward reproduces what the engine sampled from (ratio 1)."""
    results = rollouts(model)
    batch = pack(results, pad_id=0)
    with torch.no_grad():
        logprobs, entropy = teacher_forced_logprobs(model, batch, temperature=0.8, with_entropy=True)
    mask = batch.completion_mask.bool()
    assert torch.allclose(logprobs[mask], batch.sampling_logprobs[mask], atol=1e-4)
    assert entropy.shape == logprobs.shape and bool((entropy[mask] > 0).all())


def test_padded_batch_logprobs_equal_each_sequence_alone(model):
    results = rollouts(model)
    batch = pack(results, pad_id=0)
    with torch.no_grad():
        together, _ = teacher_forced_logprobs(model, batch, 1.0)
        for row, result in enumerate(results):
            single = pack([result], pad_id=0)
            alone, _ = teacher_forced_logprobs(model, single, 1.0)
            real = single.completion_mask[0].bool()
            assert torch.allclose(together[row, : real.numel()][real], alone[0][real], atol=1e-5)
            assert not batch.completion_mask[row, real.numel() :].any()  # padding is outside the loss


def test_loss_mask_drops_truncated_completions_when_asked(model):
    results = generate_rollouts(model, None, PROMPTS, GenerationConfig(n=2, max_new_tokens=3, temperature=1.0, seed=0))
    results[0] = dataclasses.replace(results[0], finish_reason="eos")
    batch = pack(results, pad_id=0)
    assert batch.truncated.tolist() == [False] + [True] * 5
    dropped = batch.loss_mask(drop_truncated=True)
    assert dropped[0].sum() == 3 and dropped[1:].sum() == 0
    assert torch.equal(batch.loss_mask(), batch.completion_mask)


@pytest.mark.parametrize(
    ("rows", "forced"),
    [(slice(None), False), (slice(2, 7), False), (torch.tensor([0, 3, 7]), False), (slice(None), True)],
    ids=["whole-batch", "micro-batch-splitting-groups", "no-prompt-shared", "forced-tokens-inside"],
)
def test_shared_prompts_give_the_one_pass_logprobs_and_gradients(model, rows, forced):
    """Each group's prompt run once (PrefixKV), or rows sharing nothing in one causal pass, and
    the plain pass FSDP takes, equal one full forward of every row through autograd, values and
    gradients; tokens forced by thinking control (left
    out of the loss mid-completion) do not move the prompt's end."""
    results = generate_rollouts(model, None, [[1, 2, 3, 4, 5], [6], [8, 9, 10]], GenerationConfig(n=3, max_new_tokens=6, temperature=1.0, seed=5))
    cut = lambda r, n: dataclasses.replace(
        r, token_ids=r.token_ids[:n], logprobs=r.logprobs[:n], sampling_logprobs=r.sampling_logprobs[:n],
        forced=tuple(forced and 1 <= k <= 2 < n - 1 for k in range(n)),
    )  # fmt: skip
    batch = pack([cut(r, 1 + i % 6) for i, r in enumerate(results)], pad_id=0).select(rows)  # ragged completions
    assert forced == bool((batch.completion_mask.sum(dim=1) < batch.attention_mask.sum(dim=1) - torch.tensor([len(r.prompt_token_ids) for r in results])[rows]).any())
    weights = torch.randn(batch.completion_mask.shape, generator=torch.Generator().manual_seed(0))
    outcomes = []
    for way in ("shared", "plain", "autograd"):
        model.zero_grad(set_to_none=True)
        if way == "autograd":  # the reference: one full forward, every position's logits kept
            logits = model.logits(model(batch.input_ids, attention_mask=batch.attention_mask)[:, :-1]).float() / 0.7
            logprobs = logits.log_softmax(-1).gather(-1, batch.input_ids[:, 1:, None]).squeeze(-1) * batch.completion_mask
            entropy = -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1).detach() * batch.completion_mask
        else:
            logprobs, entropy = teacher_forced_logprobs(model, batch, 0.7, with_entropy=True, share_prompts=way == "shared")
        (logprobs * weights).sum().backward()
        outcomes.append((logprobs.detach(), entropy, {n: p.grad.clone() for n, p in model.named_parameters()}))
    *paths, (full, full_entropy, full_grads) = outcomes
    for values, entropy, grads in paths:
        assert torch.allclose(values, full, atol=1e-5) and torch.allclose(entropy, full_entropy, atol=1e-5)
        assert bool((values[batch.completion_mask == 0] == 0).all())
        for name, grad in full_grads.items():
            assert torch.allclose(grads[name], grad, atol=1e-5), name


@pytest.mark.parametrize("share", [True, False], ids=["shared-prompts", "plain-pass-as-under-fsdp"])
def test_no_vocabulary_wide_activation_is_kept_for_backward(model, share):
    """Either way through the head, autograd keeps hidden states, not [tokens, vocab] logits."""
    results = generate_rollouts(model, None, [[1, 2, 3], [4, 5]], GenerationConfig(n=2, max_new_tokens=6, temperature=1.0, seed=3))
    batch = pack(results, pad_id=0)
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    widths = []

    def pack_hook(tensor):
        if tensor.untyped_storage().data_ptr() not in parameters:
            widths.append(tensor.shape[-1] if tensor.dim() else 0)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack_hook, lambda tensor: tensor):
        teacher_forced_logprobs(model, batch, 1.0, share_prompts=share)
    assert widths and TINY.vocab_size not in widths
