"""A second opinion on grades from math-verify (Hugging Face's grader, the optional extra
`reasoning[verify]`), so that a reader can audit where the two graders disagree.

math-verify reads only LaTeX here (its `LatexExtractionConfig`, an ANTLR parser): its
plain-expression path (`ExprExtractionConfig`) hands model text to sympy's `parse_expr`, which
runs Python, so it is never asked for. Its verdicts come from worker processes like the
grader's own, killed past a time bound; math-verify's own timeouts are off, since their
SIGALRM would replace the worker's.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from reasoning.grading.workers import WorkerPool

INSTALL = "the cross-check needs math-verify: pip install 'reasoning[verify]' (or: pip install math-verify)"
TIMEOUT = 5.0  # seconds for one of math-verify's verdicts, its parsing of both answers included


@dataclass(frozen=True)
class SecondOpinion:
    """math-verify's verdict on one completion: None when it gave none in time (or failed)."""

    correct: bool | None
    answer: str  # what math-verify read from the completion
    gold: str  # what it read from the reference
    reason: str = ""  # why there is no verdict


def math_verify_installed() -> bool:
    """Whether math-verify can be imported here."""
    return importlib.util.find_spec("math_verify") is not None


def require_math_verify() -> None:
    """Refuse, in one line that says how to install it, when math-verify is missing."""
    if not math_verify_installed():
        raise ValueError(INSTALL)


def second_opinions(pairs: Iterable[tuple[str, str]], processes: int | None = None, *, timeout: float = TIMEOUT) -> list[SecondOpinion]:
    """math-verify's verdicts on (completion, reference) pairs, in order, on `processes` workers."""
    require_math_verify()
    pairs = list(pairs)

    def ask(pair: tuple[str, str]) -> SecondOpinion:
        completion, gold = pair
        reply = _pool().ask({"pred": completion, "gold": gold, "timeout": timeout}, timeout)
        return SecondOpinion(None, "", "", f"no verdict within {timeout:g} s") if reply is None else SecondOpinion(*reply)

    workers = max(1, min(processes or os.cpu_count() or 1, len(pairs)))
    with ThreadPoolExecutor(workers) as executor:  # threads wait on pipes; the workers do the work
        return list(executor.map(ask, pairs))


# -- inside a worker process --------------------------------------------------------------------
def load_math_verify() -> None:
    """Import math-verify and quiet its warning that its own timeouts are off (the worker is the bound)."""
    import math_verify  # noqa: F401

    logging.getLogger("math_verify").setLevel(logging.ERROR)


def math_verify_verdict(completion: str, gold: str) -> tuple[bool, str, str, str]:
    """(correct, answer read, reference read, "") as math-verify decides, reading LaTeX only; the
    reference goes in as inline maths, as math-verify's documentation writes golds."""
    from math_verify import LatexExtractionConfig, parse, verify

    latex_only = [LatexExtractionConfig()]
    reference = parse(f"${gold}$", extraction_config=latex_only, parsing_timeout=None)
    answer = parse(completion, extraction_config=latex_only, parsing_timeout=None)
    return bool(verify(reference, answer, timeout_seconds=None)), _shown(answer), _shown(reference), ""


def _shown(parsed: list) -> str:
    """What math-verify read, as text: its string form where it kept one, else the parsed value."""
    texts = [item for item in parsed if isinstance(item, str)]
    return texts[-1] if texts else str(parsed[0]) if parsed else ""


@functools.cache
def _pool() -> WorkerPool:
    """The cross-check's workers (started on first use, with math-verify loaded)."""
    return WorkerPool(("--math-verify",), died=[None, "", "", "the math-verify worker died"])
