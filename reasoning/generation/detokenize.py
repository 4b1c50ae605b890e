"""Text of a token stream as it grows: whole characters only, and stop strings found on the tail.

A byte-level BPE token may end in the middle of a UTF-8 character (an emoji or a CJK
character is often two or three tokens), and decoding such a prefix gives U+FFFD. So text is
released only once the decoded window no longer ends in U+FFFD, and each step decodes a short
window of recent tokens rather than the whole sequence (the scheme of Hugging Face's
TextStreamer and vLLM's incremental detokenizer).
"""

from __future__ import annotations

import copy

from collections.abc import Sequence
from typing import Protocol

REPLACEMENT = "\ufffd"


class Decoder(Protocol):
    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str: ...


class IncrementalText:
    """Decodes tokens one at a time and watches for stop strings in the new text."""

    def __init__(self, tokenizer: Decoder, stop: Sequence[str] = ()) -> None:
        self.tokenizer = tokenizer
        self.stop = tuple(s for s in stop if s)
        self.longest_stop = max((len(s) for s in self.stop), default=0)
        self.tokens: list[int] = []
        self.text = ""
        self.stop_index: int | None = None  # where the first stop string starts in `text`
        self._window = 0  # tokens before this index are already in `text` ...
        self._read = 0  # ... and tokens[_window:_read] decode to the last released piece

    def push(self, token: int) -> bool:
        """Add one token; True once a stop string has appeared in the text."""
        self.tokens.append(token)
        seen = self.tokenizer.decode(self.tokens[self._window : self._read])
        window = self.tokenizer.decode(self.tokens[self._window :])
        if len(window) <= len(seen) or window.endswith(REPLACEMENT):
            return False  # an incomplete character: wait for its next bytes
        start = len(self.text)
        self.text += window[len(seen) :]
        self._window, self._read = self._read, len(self.tokens)
        if self.stop and self.stop_index is None:
            self.stop_index = self._find_stop(max(0, start - self.longest_stop + 1))
        return self.stop_index is not None

    def copy(self) -> IncrementalText:
        """An independent copy of the text so far (a branch of the request continues it)."""
        twin = copy.copy(self)
        twin.tokens = list(self.tokens)
        return twin

    def flush(self) -> None:
        """Release the text of any trailing incomplete character (at the end of generation)."""
        seen = self.tokenizer.decode(self.tokens[self._window : self._read])
        window = self.tokenizer.decode(self.tokens[self._window :])
        self.text += window[len(seen) :]
        self._window = self._read = len(self.tokens)

    def final_text(self) -> str:
        """The text up to (not including) the first stop string."""
        return self.text if self.stop_index is None else self.text[: self.stop_index]

    def stable_text(self) -> str:
        """Text that no later token can turn into the start of a stop string (safe to stream)."""
        if self.stop_index is not None:
            return self.text[: self.stop_index]
        return self.text[: max(0, len(self.text) - self.longest_stop + 1)]

    def _find_stop(self, start: int) -> int | None:
        found = [index for index in (self.text.find(s, start) for s in self.stop) if index >= 0]
        return min(found, default=None)


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to the earliest occurrence of any stop string."""
    found = [index for index in (text.find(s) for s in stop if s) if index >= 0]
    return text[: min(found)] if found else text
