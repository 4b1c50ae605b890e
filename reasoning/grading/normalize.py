"""String clean-up of answers before parsing: LaTeX noise, units, separators, text answers.

Everything here is cheap, linear work, so the grader runs it in the calling process and
settles exact matches without a worker hop. Linear by construction: no pattern has two
unbounded quantifiers that can share characters back to back, and no pattern can start
a failing match at every position of a long run (a leading run of blanks is matched
only from its first blank), so a megabyte of blanks, braces or dollars is crossed in one pass.
"""

from __future__ import annotations

import re

from reasoning.grading.extract import unbox
from reasoning.grading.units import split_unit

# Plain Unicode that models print for maths, mapped onto the LaTeX the parser reads.
_UNICODE = {
    "\u2212": "-", "\u2013": "-", "\u00d7": r"\times ", "\u22c5": r"\cdot ", "\u00b7": r"\cdot ",
    "\u00f7": r"\div ", "\u03c0": r"\pi ", "\u221a": r"\sqrt", "\u221e": r"\infty ",
    "\u2264": r"\le ", "\u2265": r"\ge ", "\u2260": r"\ne ", "\u00b1": r"\pm ", "\u2213": r"\mp ",
    "\u222a": r"\cup ", "\u2208": r"\in ", "\u2205": r"\emptyset ", "\u00b0": "",
    "\u2032": "'", "\u0127": r"\hbar ", "\u2220": r"\angle ",
}
_UNICODE_RE = re.compile("|".join(map(re.escape, _UNICODE)))
# A root over a number takes all its digits (√51 is \sqrt{51}, where LaTeX's \sqrt51 is \sqrt{5}1),
# and a run of superscripts is one exponent (x² is x^{2}, 10⁻³ is 10^{-3}).
_UNICODE_ROOT = re.compile("\u221a" + r"\s*(\d+(?:\.\d+)?)")
_SUPERSCRIPTS = re.compile("[\u207b\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+")
_PLAIN_DIGITS = str.maketrans("\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079", "-0123456789")

_GROUPED_DIGITS = re.compile(r"(\d)\s*(?:,\\!|\{,\})\s*(?=\d{3}(?!\d))")  # 10,\!080 and 10{,}080
# Spacing commands; `\\` (a matrix row break) is matched first so that it is kept whole.
_SPACING = re.compile(r"\\\\|\\[,!;: ]|\\q?quad(?![a-zA-Z])|~|\\displaystyle|\\hspace\*?\{[^{}]*\}")
_SPACE_FOR = {"\\\\": "\\\\", "\\,": "", "\\!": "", "\\displaystyle": ""}

_NOT_LETTER = r"(?![a-zA-Z])"
_ENVIRONMENTS = "[pbBvV]?matrix|smallmatrix|array"
# Ordered (pattern, replacement) rewrites; each makes two spellings of one thing identical.
_REWRITES = [
    (re.compile(r"\\(?:left|right)\.|\\(?:left|right|[bB]igg?[lr]?)" + _NOT_LETTER), ""),
    (re.compile(r"\\[dtc]frac" + _NOT_LETTER), r"\\frac"),
    (re.compile(r"\\[dt]binom" + _NOT_LETTER), r"\\binom"),
    (re.compile(r"\\(?:mbox|text(?:rm|bf|it|up|normal|sf)|math(?:rm|bf|it|sf))" + _NOT_LETTER),
     r"\\text"),
    (re.compile(r"\\leq(?:slant)?" + _NOT_LETTER), r"\\le"),
    (re.compile(r"\\geq(?:slant)?" + _NOT_LETTER), r"\\ge"),
    (re.compile(r"\\neq" + _NOT_LETTER), r"\\ne"),
    (re.compile(r"\\[lr]?vert" + _NOT_LETTER), "|"),
    (re.compile(r"\^\s*\{\s*\\circ\s*\}|(?:\^|(?<!\s))\s*\\(?:circ|degree)" + _NOT_LETTER), ""),
    # An environment that lost its braces: \beginbmatrix (a command that lost its space,
    # \sinx, is split by the tokenizer).
    (re.compile(r"\\(begin|end)\s*(" + _ENVIRONMENTS + r")" + _NOT_LETTER), r"\\\1{\2}"),
    (re.compile(r"\\%"), "%"),
]
# A prime written as an exponent, y^{\prime}, y^\prime, y^{\prime\prime}: the derivative mark y', y''.
_PRIME = re.compile(r"\^\s*(?:\{\s*((?:\\prime\s*)+)\}|(\\prime)(?![a-zA-Z]))")

# An ordinal ending straight after a digit: 5th, 5^{th}, 5^{\text{th}}, 5\text{th}.
_ORDINAL = re.compile(
    r"(?<=\d)(?:\^\{?(?:\\text\{(?:st|nd|rd|th)\}|(?:st|nd|rd|th))\}?|\\text\{(?:st|nd|rd|th)\}"
    r"|(?:st|nd|rd|th)(?![a-zA-Z]))"
)
# Digits grouped by commas as a whole argument, \frac{1,000}{3}: one number, not a list.
_BRACED_THOUSANDS = re.compile(r"(?<!\\)\{\s*(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?)\s*\}")
# A leading `f(x) =` or `p(2) =` names what the answer is (only when no other `=` follows).
_FUNCTION_NAME = re.compile(r"^[a-zA-Z]\s*\(\s*\w+(?:\s*,\s*\w+)*\s*\)\s*=(?=[^=]*$)")
_TEXT_GROUP = re.compile(r"\\text\s*\{([^{}]*)\}")
# Blanks next to punctuation; a run before punctuation is tried from its first blank only.
_SPACE_AROUND = re.compile(r"(?<!\s)\s+(?=[^\w\s\\])|(?<=[^\w\s\\])\s+")
_BLANKS = re.compile(r"\s+")
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")

# Letter runs that are maths rather than prose; short runs like `ab` or `xyz` are products.
_MATH_WORDS = frozenset(
    "sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh coth sech csch log ln exp sqrt "
    "pi inf infty infinity floor ceil abs text frac".split()
)
_SHORT_WORDS = frozenset("yes no odd all none".split())
_ENVIRONMENT = re.compile(r"\\(?:begin|end)\{\w*\}(?:\{\w*\})?")
_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{2,}")
_CHOICE = re.compile(r"\(?([A-Z])\)?")
_CHOICE_LETTER = re.compile(r"\([A-Z]\)")
_WHOLLY_TEXT = re.compile(r"\\(?:text|textbf|mbox)\s*\{[^{}A-Za-z]*[A-Za-z][^{}]*\}\.?")
# A choice letter, alone or before its option's text: B, (B), (B) 12, B. 12, B) 12.
_CHOICE_OPTION = re.compile(r"\A(?:\(([A-Z])\)|([A-Z])(?:[.:)]|$))")


def clean(answer: str) -> str:
    """Canonical string form of an answer: the same written answer always cleans the same way."""
    return clean_with_unit(answer)[0]


def clean_with_unit(answer: str) -> tuple[str, str]:
    """The cleaned answer without its unit, and the unit's canonical name ("" when none)."""
    s = unbox(answer.strip())
    s = s.replace(r"\$", "").replace("$", "")
    s = _UNICODE_ROOT.sub(r"\\sqrt{\1}", s)
    s = _SUPERSCRIPTS.sub(lambda m: "^{" + m.group().translate(_PLAIN_DIGITS) + "}", s)
    s = _UNICODE_RE.sub(lambda m: _UNICODE[m.group()], s)
    s = _GROUPED_DIGITS.sub(r"\1", s)
    s = _SPACING.sub(lambda m: _SPACE_FOR.get(m.group(), " "), s)
    for pattern, replacement in _REWRITES:
        s = pattern.sub(replacement, s)
    s = _PRIME.sub(lambda m: "'" * (m.group(1) or m.group(2)).count("\\prime"), s)
    s = _ORDINAL.sub("", s)
    s, unit = split_unit(s.strip())
    s = _BRACED_THOUSANDS.sub(lambda m: "{" + m.group(1).replace(",", "") + "}", s)
    s = _TEXT_GROUP.sub(lambda m: f" {m.group(1).strip()} ", s).strip().rstrip(".").strip()
    s = _FUNCTION_NAME.sub("", s)
    if _THOUSANDS.fullmatch(s):  # before spaces go, so that the list "1, 234" stays a list
        s = s.replace(",", "")
    return _BLANKS.sub(" ", _SPACE_AROUND.sub("", s)).strip(), unit


def choice_letter(cleaned: str) -> str | None:
    """The letter of a multiple-choice answer, alone or followed by its option's text."""
    m = _CHOICE_OPTION.match(cleaned)
    return (m.group(1) or m.group(2)) if m else None


def is_text(cleaned: str, written: str = "") -> bool:
    """Whether an answer is prose (a name, a word, a choice letter) rather than maths.

    `written`, the answer before cleaning, makes a wholly `\\text{C}` answer text too; pass it
    for a reference, whose writer chose \\text deliberately.
    """
    if _CHOICE_LETTER.fullmatch(cleaned) or _WHOLLY_TEXT.fullmatch(unbox(written.strip())):
        return True
    for word in _WORD.findall(_ENVIRONMENT.sub("", cleaned)):
        word = word.lower()
        if word not in _MATH_WORDS and (len(word) >= 4 or word in _SHORT_WORDS):
            return True
    return False


def text_form(cleaned: str) -> str:
    """Case-, space- and article-insensitive form used to compare text answers."""
    s = re.sub(r"\\text|[{}\\]", "", cleaned).lower().strip()
    s = re.sub(r"^(?:an?|the)\s+", "", s)
    choice = _CHOICE.fullmatch(s.upper())
    if choice:
        return choice.group(1).lower()
    return re.sub(r"\s+", "", s).rstrip(".")
