"""GenerationConfig is the one list of generation options: keywords and flags map onto its fields."""

from __future__ import annotations

import argparse

import pytest

from reasoning.cli import build_parser
from reasoning.generation.options import FIELDS_IN_ORDER, FLAGS, THINKING_FLAGS, GenerationConfig, add_generation_flags, generation_config


def test_every_field_but_the_eos_ids_has_a_flag_in_field_order():
    assert list(FLAGS) == [name for name in FIELDS_IN_ORDER if name != "eos_token_ids"]  # ids are not typed in


def test_with_options_replaces_fields_and_validates_them():
    config = GenerationConfig(max_new_tokens=8).with_options(temperature=0.6, stop=["\n"], eos_token_ids=[1, 2])
    assert (config.max_new_tokens, config.temperature, config.stop, config.eos_token_ids) == (8, 0.6, ("\n",), (1, 2))
    with pytest.raises(TypeError, match="'temprature'"):
        config.with_options(temprature=0.6)
    with pytest.raises(ValueError, match="top_p"):
        config.with_options(top_p=0.0)


def test_generate_flags_build_the_config():
    args = build_parser().parse_args([
        "generate", "--model", "0.6B", "--prompt", "x", "--max-new-tokens", "64", "--temperature", "0.7", "--top-k", "20",
        "--n", "4", "--seed", "3", "--stop", "\n\n", "--stop", "END", "--max-batch-size", "8", "--compile",
    ])  # fmt: skip
    assert generation_config(args) == GenerationConfig(
        max_new_tokens=64, temperature=0.7, top_k=20, n=4, seed=3, stop=("\n\n", "END"), max_batch_size=8, compile=True
    )
    defaults = build_parser().parse_args(["generate", "--model", "0.6B", "--prompt", "x"])
    assert generation_config(defaults) == GenerationConfig(max_new_tokens=512)


def test_chat_flags_default_to_qwen3s_thinking_sampling():
    args = build_parser().parse_args(["chat", "--model", "0.6B"])
    assert generation_config(args) == GenerationConfig(max_new_tokens=512, temperature=0.6, top_p=0.95, top_k=20)


def test_flags_left_unset_keep_the_base_config():
    parser = argparse.ArgumentParser()
    add_generation_flags(parser, ["temperature", "top_p", "seed"], temperature=None, top_p=None)
    base = GenerationConfig(max_new_tokens=32, temperature=0.6, top_p=0.95)
    assert generation_config(parser.parse_args([]), base) == base
    assert generation_config(parser.parse_args(["--top-p", "0.5", "--seed", "1"]), base) == base.with_options(top_p=0.5, seed=1)


def test_thinking_flags_build_the_config():
    parser = argparse.ArgumentParser()
    add_generation_flags(parser, THINKING_FLAGS)
    args = parser.parse_args(["--thinking-budget", "256", "--min-thinking", "16", "--wait", "2", "--answer-budget", "64"])
    config = generation_config(args)
    assert (config.thinking_budget, config.min_thinking, config.wait, config.answer_budget) == (256, 16, 2, 64)
    assert config.controls_thinking and not GenerationConfig().controls_thinking
    with pytest.raises(SystemExit):
        parser.parse_args(["--thinking-budget", "-1"])
