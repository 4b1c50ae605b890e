"""The sampling protocols: the papers' presets and their overrides."""

from __future__ import annotations

import pytest

from reasoning.evaluation.protocols import PROTOCOLS, default_protocol, get_protocol


def test_protocol_presets_and_overrides():
    assert PROTOCOLS["greedy"].n == 1 and PROTOCOLS["greedy"].temperature == 0
    r1, qwen3 = get_protocol("r1"), get_protocol("qwen3")
    assert (r1.temperature, r1.top_p, r1.top_k) == (0.6, 0.95, 0) and (qwen3.temperature, qwen3.top_p, qwen3.top_k) == (0.6, 0.95, 20)
    assert qwen3.with_overrides(n=4, top_k=None).settings() == {
        "protocol": "qwen3, n 4", "preset": "qwen3", "n": 4, "temperature": 0.6, "top_p": 0.95, "top_k": 20, "min_p": 0.0, "max_new_tokens": 32_768,
        "presence_penalty": 0.0, "frequency_penalty": 0.0, "enable_thinking": True,
    }  # fmt: skip
    nothink = get_protocol("qwen3-nothink")  # the Qwen3 report's non-thinking mode
    assert (nothink.temperature, nothink.top_p, nothink.top_k, nothink.presence_penalty, nothink.enable_thinking) == (0.7, 0.8, 20, 1.5, False)
    assert qwen3.prompt == nothink.prompt == get_protocol("r1").prompt == "r1" and get_protocol("greedy").prompt is None
    fewshot = default_protocol("base")
    assert fewshot.name == "base-fewshot" and fewshot.shots is None and fewshot.temperature == 0 and default_protocol("reasoning") is qwen3
    assert "prompt" not in qwen3.settings() and "shots" not in fewshot.settings()  # recorded per task, as each resolves them
    assert qwen3.settings()["protocol"] == "qwen3" and qwen3.with_overrides(top_k=20).label == "qwen3"  # the preset's own values
    sampled = get_protocol("greedy").with_overrides(n=4, temperature=1.0)
    assert sampled.settings()["protocol"] == "greedy, n 4, temperature 1.0" and sampled.settings()["preset"] == "greedy"
    with pytest.raises(ValueError, match="greedy samples would all be the same"):
        get_protocol("greedy").with_overrides(n=4)
    with pytest.raises(ValueError, match="unknown protocol"):
        get_protocol("r2")
    with pytest.raises(ValueError, match="need n >= 1"):
        get_protocol("r1").with_overrides(n=0)
    with pytest.raises(ValueError, match="unknown protocol field 'beams'"):
        get_protocol("r1").with_overrides(beams=4)
