"""Best-of-N: generate N candidate solutions and keep the one a scorer ranks highest.

A scorer takes a problem's candidates and returns one `Score` each; any function of that
shape plugs in. Three come with the package, each also by name through `make_scorer`:
- `mean_logprob_scorer(model)` ("logprob"): the candidate's mean token log-probability under
  the model, given the original prompt (the model's own confidence; no extra generation when
  the candidate was sampled from that prompt, since its log-probs came with it).
- `heuristic_scores` ("heuristic"): cheap text checks: a boxed answer, a finished (not truncated)
  solution, little repetition, brevity.
- `judge_scorer(...)` ("judge"): the model as its own judge: it reads each solution under a grading
  prompt and replies with a score out of 10, parsed robustly; its tokens are counted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import nn

from reasoning.generation.api import GenerationConfig, Tokenizer, generate
from reasoning.generation.endpoint import Endpoint, refuse_remote
from reasoning.grading import extract_answer
from reasoning.logprobs import completion_logprobs
from reasoning.prompts import JUDGE_PROMPT, PromptKind, fill, task_prompt, visible_text
from reasoning.tokenizer import format_chat


@dataclass(frozen=True)
class Candidate:
    """One solution to score: its text and tokens, the prompt it answers, and (if known) the
    log-probability of each token given that prompt."""

    question: str
    text: str
    prompt_ids: tuple[int, ...]
    token_ids: tuple[int, ...]
    finished: bool = True  # False when cut off by the token budget
    logprobs: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Score:
    """A candidate's score, the tokens generated to compute it, and what the scorer saw."""

    value: float
    tokens: int = 0
    note: str | None = None


Scorer = Callable[[Sequence[Candidate]], list[Score]]


def best_of_n(candidates: Sequence[Candidate], scorer: Scorer) -> tuple[int, list[Score]]:
    """The index of the highest-scoring candidate (the first among equals) and every score."""
    if not candidates:
        raise ValueError("best_of_n needs at least one candidate")
    scores = scorer(candidates)
    if len(scores) != len(candidates):
        raise ValueError(f"the scorer returned {len(scores)} scores for {len(candidates)} candidates")
    best = max(range(len(scores)), key=lambda k: (scores[k].value, -k))
    return best, scores


def mean_logprob_scorer(model: nn.Module) -> Scorer:
    """Mean token log-probability given the original prompt, computed with `model` (one
    teacher-forced pass) for candidates that do not carry their log-probs."""

    def score(candidates: Sequence[Candidate]) -> list[Score]:
        return [Score(_mean(c.logprobs if c.logprobs is not None else completion_logprobs(model, c.prompt_ids, c.token_ids))) for c in candidates]

    return score


def heuristic_score(text: str, *, finished: bool = True, tokens: int = 0) -> float:
    """A cheap plausibility score: +1 for a boxed (or stated) final answer, +0.5 for finishing
    within budget, minus the share of repeated 4-word phrases, minus 0.1 per 1,000 tokens."""
    visible = visible_text(text)
    score = 1.0 if extract_answer(visible, last_number=False) is not None else 0.0
    score += 0.5 if finished else 0.0
    words = visible.split()
    phrases = [tuple(words[k : k + 4]) for k in range(len(words) - 3)]
    if phrases:
        score -= 1.0 - len(set(phrases)) / len(phrases)
    return score - 0.1 * tokens / 1000


def heuristic_scores(candidates: Sequence[Candidate]) -> list[Score]:
    """`heuristic_score` of each candidate."""
    return [Score(heuristic_score(c.text, finished=c.finished, tokens=len(c.token_ids))) for c in candidates]


_SCORE_PATTERNS = (
    re.compile(r"(\d{1,3}(?:\.\d{1,3})?)\s*(?:/|out\s+of)\s*10\b", re.I),
    re.compile(r"score\s*(?:is|of|:|=)?\s*\**\s*(\d{1,3}(?:\.\d{1,3})?)", re.I),
    re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3})?)(?![\d.])"),
)
UNPARSED_SCORE = -1.0  # below every parsed score, so an unreadable verdict never wins


def parse_score(reply: str, scale: float = 10.0) -> float | None:
    """The score in a judge's reply: "N/10" or "N out of 10", else "Score: N", else a lone
    number, taken only when within [0, scale]. Linear-time patterns on at most 2,000 chars."""
    reply = visible_text(reply)[:2000]
    for pattern in _SCORE_PATTERNS:
        for match in pattern.finditer(reply):
            value = float(match.group(1))
            if 0 <= value <= scale:
                return value
    return None


def judge_scorer(
    model: nn.Module,
    tokenizer: Tokenizer,
    *,
    kind: PromptKind,
    max_new_tokens: int = 16,
    max_batch_size: int = 32,
    compile: bool | None = None,
) -> Scorer:
    """The model as its own judge: each candidate is shown (without its <think> block) under
    `JUDGE_PROMPT`, the model replies greedily, and `parse_score` reads the score
    (`UNPARSED_SCORE` when it finds none). The reply and its tokens are kept in the Score."""
    config = GenerationConfig(max_new_tokens=max_new_tokens, max_batch_size=max_batch_size, compile=compile)
    chat = getattr(tokenizer, "apply_chat_template", format_chat)

    def score(candidates: Sequence[Candidate]) -> list[Score]:
        prompts = [
            task_prompt(fill(JUDGE_PROMPT, problem=c.question, solution=visible_text(c.text)), kind=kind, chat=chat)
            for c in candidates
        ]  # fmt: skip
        replies = generate(model, tokenizer, prompts, config)
        scores = []
        for reply in replies:
            value = parse_score(reply.text or "")
            scores.append(Score(UNPARSED_SCORE if value is None else value, reply.num_tokens, reply.text))
        return scores

    return score


def make_scorer(name: str, model: nn.Module, tokenizer: Tokenizer, *, kind: PromptKind, config: GenerationConfig) -> Scorer:
    """The scorer called `name` (what `--scorer` chooses): "logprob", "heuristic" or "judge"
    (which replies with `config`'s batch size and compile setting)."""
    if name == "logprob":
        if isinstance(model, Endpoint):  # the OpenAI API returns text, not the model's log-probs
            refuse_remote("the logprob scorer")
        return mean_logprob_scorer(model)
    if name == "heuristic":
        return heuristic_scores
    if name == "judge":
        return judge_scorer(model, tokenizer, kind=kind, max_batch_size=config.max_batch_size, compile=config.compile)
    raise ValueError(f"unknown scorer {name!r}; choose logprob, heuristic or judge")


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else -math.inf
