"""The toy addition task (`reasoning.training.toy`): its tokenizer, and its problems as plain tasks."""

from __future__ import annotations

from reasoning.training.toy import toy_tokenizer


def test_toy_tokenizer_round_trips_and_has_qwen3_specials():
    tokenizer = toy_tokenizer()
    ids = tokenizer.encode("12+7=\\boxed{19}")
    assert len(ids) == 9 and tokenizer.decode(ids) == "12+7=\\boxed{19}"  # "\\boxed{" is one token
    assert tokenizer.decode(ids + [tokenizer.eos_token_id], skip_special_tokens=True) == "12+7=\\boxed{19}"
    assert tokenizer.vocab_size <= 128 and tokenizer.think_start_id is not None
