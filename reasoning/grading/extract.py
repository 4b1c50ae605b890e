"""Pull the final answer out of a model's completion: boxed, then stated, then the last number.

Every step is linear in the completion's length, so a megabyte of hostile text costs
milliseconds here and never needs the grader's worker process.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_BOX = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")
# Each `\s*` is followed by a required literal (never by another `\s*`), so a run of spaces
# is crossed once per attempt: "answer" and a megabyte of blanks costs one pass, not n^2.
_STATED = re.compile(r"(?:final\s+answer|answer)\s*(?:\*\*\s*)?(?:is\b|:|=)\s*(?:\*\*)?", re.I)
_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?|-?\.\d+")
# Anchored with \A: a lazy scan for the closing delimiter is tried from the start only.
_DELIMITED = re.compile(
    r"\A(?:\$\$(.+?)\$\$|\$((?:\\\$|[^$])+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\])", re.S
)
_BARE = re.compile(r"[^\s$]+")
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\n")


def extract_answer(completion: str, *, last_number: bool = True) -> str | None:
    """The final answer in a completion, or None; text after a closing </think> comes first."""
    if "</think>" in completion:
        found = _find(completion.rsplit("</think>", 1)[1], last_number)
        if found is not None:
            return found
    return _find(completion, last_number)


def boxed_arguments(text: str, *, head: int | None = None) -> Iterator[tuple[int, str]]:
    """(position, argument) of each complete \\boxed or \\fbox in the text, the last box first.

    With `head` every argument is cut to its first `head` characters, so that reading all the
    boxes stays linear however they nest (each nested argument holds all the boxes inside it).
    """
    starts = list(_BOX.finditer(text))
    braces = _match_braces(text) if starts else {}
    for box in reversed(starts):
        content = _box_content(text, box.end(), braces, head)
        if content is not None:
            yield box.start(), content


def last_boxed(text: str) -> str | None:
    """The argument of the last complete, non-blank \\boxed{} or \\fbox{} in the text, as written."""
    return next((content for _, content in boxed_arguments(text) if content.strip()), None)


def unbox(answer: str) -> str:
    """The content of an answer written wholly as \\boxed{...} (nested boxes too), else itself."""
    braces = None  # matched only once a box is seen: most answers have none
    lo, hi = 0, len(answer)
    while True:
        while lo < hi and answer[lo].isspace():
            lo += 1
        while hi > lo and answer[hi - 1].isspace():
            hi -= 1
        m = _BOX.match(answer, lo, hi)
        i = m.end() if m else hi
        while i < hi and answer[i] == " ":
            i += 1
        if i >= hi or answer[i] != "{":
            return answer[lo:hi]
        if braces is None:
            braces = _match_braces(answer)
        if braces.get(i) != hi - 1:
            return answer[lo:hi]
        lo, hi = i + 1, hi - 1


def _find(text: str, last_number: bool) -> str | None:
    """The answer in one stretch of text, trying each form from the most explicit."""
    boxed = last_boxed(text)
    found = (_tidy(boxed) if boxed else None) or _stated(text)
    if found is None and last_number:
        found = _last_number(text)
    return found


def _match_braces(text: str) -> dict[int, int]:
    """Index of each `{`'s matching `}` (escaped braces skipped), found in one pass."""
    stack, match = [], {}
    for i, ch in enumerate(text):
        if ch in "{}" and i and text[i - 1] == "\\":
            continue
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            match[stack.pop()] = i
    return match


def _box_content(text: str, start: int, braces: dict[int, int], head: int | None) -> str | None:
    """The argument of a box command ending at `start`: `{...}` or a bare token (`\\boxed 5`),
    cut to its first `head` characters when `head` is given."""
    i = start
    while i < len(text) and text[i] in " \t":
        i += 1
    if i < len(text) and text[i] == "{":
        end = braces.get(i)
        if end is None:
            return None
        return text[i + 1 : end if head is None else min(end, i + 1 + head)]
    m = _BARE.match(text, i, len(text) if head is None else i + head)
    return m.group() if m else None


def _stated(text: str) -> str | None:
    """The answer after the last "final answer is" / "answer:" phrase."""
    last = None
    for last in _STATED.finditer(text):
        pass
    if last is None:
        return None
    rest = text[last.end() :].lstrip()
    math = _DELIMITED.match(rest)
    if math:
        return _tidy(next(g for g in math.groups() if g is not None))
    end = _SENTENCE_END.search(rest)
    return _tidy(rest[: end.start()] if end else rest)


def _last_number(text: str) -> str | None:
    """The last number written in the text."""
    last = None
    for last in _NUMBER.finditer(text):
        pass
    return None if last is None else last.group()


def _tidy(answer: str) -> str | None:
    """Strip maths delimiters, markdown bold and trailing punctuation; None when nothing is left."""
    s = answer.strip().strip("*").strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
            s = s[len(left) : len(s) - len(right)].strip()
    s = s.rstrip(".,;:").strip()
    return s or None
