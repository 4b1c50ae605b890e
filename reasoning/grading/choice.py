"""Read which option a completion chose in a multiple-choice question: the letter it states last.

Forms, from the most explicit: a boxed letter or a stated one ("Answer: C", "the correct
option is (C)", or the JSON field `"answer": "C"` that the Qwen3 model card's multiple-choice
instruction asks for), of which the last in the text wins; then a final line that is only a
letter; then the last "(C)". A letter must stand alone (never the C of "Cat" or "BCD");
"Answer: A good idea..." starts a sentence with the article; letters outside the options are
ignored.

Linear in the completion's length: the patterns that scan it have no two unbounded
quantifiers back to back, and a letter is read from a short window after each statement.
"""

from __future__ import annotations

import re

from reasoning.grading.extract import boxed_arguments

_WINDOW = 40  # characters read after a statement or inside a box: a letter and its markup fit
# "answer is", "Answer:", "**Answer:**", "the correct option is", "choice =", and a JSON or
# Python key, "answer": or 'answer': (the Qwen3 model card asks for `"answer": "C"`): `\s*` is
# always followed by a required literal, so a run of blanks is crossed once per attempt.
_STATED = re.compile(r"\b(?:answer|option|choice)\s*(?:(?:\*\*|[\"'])\s*)?(?:(is)\b|:|=)", re.IGNORECASE)
_MARKUP = re.compile(r"\\(?:boxed|fbox|text[a-z]*|math[a-z]*)|\\[()\[\]]|[{}$*]")
# After a statement (and its blanks and colons): "(C)" whatever follows, or "C" not followed by
# a letter or digit; group 3 sees whether a word follows, which after "Answer:" makes a bare
# "A" or "I" an English word.
_AFTER_STATEMENT = re.compile(r"(?:(?:[Oo]ption|[Cc]hoice)\s+)?(?:\(([A-Z])\)|([A-Z])(?![A-Za-z0-9])([ \t]+[a-z])?)")
# A box holds the letter alone or before its option's text: C, (C), C. 12, (C) 12, C) 12.
_IN_BOX = re.compile(r"\(([A-Z])\)|([A-Z])(?:[.:)]|\s*$)")
_ALONE = re.compile(r"\(?([A-Z])\)?\.?")
_PARENTHESIZED = re.compile(r"(?<![\w\\])\(([A-Z])\)")
_WORDS = "AI"  # capital letters that are also English words
_LEAD = " \t\n:\"'`"  # what may stand between a statement and its letter, beside markup (quotes: JSON)


def extract_choice(completion: str, letters: str = "ABCD") -> str | None:
    """The option letter a completion chose (one of `letters`), or None; text after the last
    </think> is searched first, then the whole completion."""
    if "</think>" in completion:
        found = _find(completion.rsplit("</think>", 1)[1], letters)
        if found is not None:
            return found
    return _find(completion, letters)


def _find(text: str, letters: str) -> str | None:
    """The chosen letter in one stretch of text, trying each form from the most explicit."""
    return _last_statement(text, letters) or _final_line(text, letters) or _last_parenthesized(text, letters)


def _last_statement(text: str, letters: str) -> str | None:
    """The letter of the last boxed or stated choice."""
    boxed = stated = None
    for at, content in boxed_arguments(text, head=_WINDOW):  # the last box first
        letter = _boxed(content, letters)
        if letter:
            boxed = (at, letter)
            break
    for match in _STATED.finditer(text):
        letter = _stated(text[match.end() : match.end() + _WINDOW], letters, sentence=match.group(1) is None)
        if letter:
            stated = (match.start(), letter)
    candidates = [found for found in (boxed, stated) if found]
    return max(candidates)[1] if candidates else None


def _boxed(content: str, letters: str) -> str | None:
    """The letter a box's content names: C, \\text{C}, (C), C. option text."""
    m = _IN_BOX.match(_MARKUP.sub("", content).lstrip())
    letter = m and (m.group(1) or m.group(2))
    return letter if letter and letter in letters else None


def _stated(window: str, letters: str, *, sentence: bool) -> str | None:
    """The letter straight after "Answer:" or "answer is"; when a `sentence` may start there
    (after a colon, not after "is"), a bare "A" or "I" followed by a word is that word."""
    m = _AFTER_STATEMENT.match(_MARKUP.sub("", window).lstrip(_LEAD))
    if not m:
        return None
    letter = m.group(1) or m.group(2)
    if sentence and m.group(3) and letter in _WORDS:
        return None
    return letter if letter in letters else None


def _final_line(text: str, letters: str) -> str | None:
    """The letter when the last non-blank line is only a letter: C, (C), C., **C**."""
    line = text.rstrip().rpartition("\n")[2]
    if len(line) > _WINDOW:
        return None
    m = _ALONE.fullmatch(_MARKUP.sub("", line).strip())
    return m.group(1) if m and m.group(1) in letters else None


def _last_parenthesized(text: str, letters: str) -> str | None:
    """The letter of the last "(C)" that is not a function's argument, as in P(A)."""
    found = None
    for m in _PARENTHESIZED.finditer(text):
        if m.group(1) in letters:
            found = m.group(1)
    return found
