"""The generation side of the strategies (strategies.py): each returns a `Solve` that yields
every problem's `Attempt` as it finishes, so every strategy evaluates with the same records,
resume and summary.

An attempt carries every token the strategy generated for the problem (cancelled samples,
critiques, judge replies), and its details keep what the method saw: the votes, the scored
candidates, or each refinement round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from reasoning.evaluation.attempts import Attempt, Clock, Completion, Solve
from reasoning.evaluation.loglik import choice_logprobs
from reasoning.generation.api import GenerationConfig, GenerationResult, Prompt, Tokenizer, generate_as_completed
from reasoning.grading import extract_answer
from reasoning.prompts import PromptKind
from reasoning.scaling.best_of_n import Candidate, best_of_n, make_scorer
from reasoning.scaling.refine import Refinement, candidate_from, self_refine
from reasoning.scaling.voting import Consistency, self_consistency


@dataclass(frozen=True)
class Setup:
    """What a strategy generates with: the model and its tokenizer, the decoding (`config.n`
    samples per problem), the prompt format, and each prompt's problem text (the judge and the
    critic read the problem, not the prompt)."""

    model: nn.Module
    tokenizer: Tokenizer
    config: GenerationConfig
    questions: dict[str, str]
    kind: PromptKind
    enable_thinking: bool = True
    on_step: Callable[[int], None] | None = None  # hears the tokens each engine step decoded (progress)


def independent_solver(setup: Setup) -> Solve:
    """`config.n` completions per problem from the batched engine, yielded as each problem's
    samples all finish."""

    def solve(items: Sequence[tuple[int, str]]) -> Iterator[tuple[int, Attempt]]:
        clock = Clock()
        for results in generate_as_completed(setup.model, setup.tokenizer, _keyed(items), setup.config, on_step=setup.on_step):
            yield results[0].prompt_index, Attempt(tuple(map(completion_of, results)), clock.lap())

    return solve


def completion_of(result: GenerationResult, **extra: Any) -> Completion:
    """A generation result as a completion; thinking, forced and answer tokens where thinking
    control counted them."""
    if result.thinking_tokens is not None:
        extra = {"thinking_tokens": result.thinking_tokens, "forced_tokens": result.forced_tokens, "answer_tokens": result.answer_tokens, **extra}
    if result.error is not None:  # a request to an endpoint that failed after its retries: kept, counted wrong
        extra = {**extra, "error": result.error}
    return Completion(result.text or "", result.num_tokens, result.finish_reason, extra)


def loglik_solver(model: nn.Module, tokenizer: Tokenizer, letters: str, *, batch_size: int = 16) -> Solve:
    """One "sample" per problem: the letter the model finds likeliest after the prompt, written
    as "Answer: X" so it grades like a generated answer, with every letter's log-prob kept."""

    def solve(items: Sequence[tuple[int, str]]) -> Iterator[tuple[int, Attempt]]:
        clock = Clock()
        for start in range(0, len(items), batch_size):
            chunk = [text for _, text in items[start : start + batch_size]]
            scores = choice_logprobs(model, tokenizer, chunk, list(letters), batch_size=batch_size)
            seconds = clock.lap() / len(chunk)
            for offset, row in enumerate(scores):
                best = max(range(len(letters)), key=row.__getitem__)
                logprobs = {letter: round(value, 4) for letter, value in zip(letters, row)}
                completion = Completion(f"Answer: {letters[best]}", 0, "loglik", {"letter_logprobs": logprobs})
                yield start + offset, Attempt((completion,), seconds)

    return solve


def self_consistency_solver(setup: Setup, *, tie_break: str, early_stop: bool) -> Solve:
    """The majority answer of `config.n` samples; the details keep the votes."""

    def solve(items: Sequence[tuple[int, str]]) -> Iterator[tuple[int, Attempt]]:
        clock = Clock()
        runs = self_consistency(setup.model, setup.tokenizer, _keyed(items), setup.config, tie_break=tie_break, early_stop=early_stop)
        for run in runs:
            yield run.prompt_index, _voted(run, clock.lap())

    return solve


def _voted(run: Consistency, seconds: float) -> Attempt:
    """A vote as an attempt: the finished samples (a cancelled one is not a sample), the winner as
    the answer (the first sample when nobody answered), the votes by position among the samples."""
    kept = [k for k, sample in enumerate(run.samples) if sample.finish_reason != "cancelled"]
    position = {k: i for i, k in enumerate(kept)}
    samples = tuple(completion_of(run.samples[k], mean_logprob=_mean(run.samples[k].logprobs)) for k in kept)
    details = {
        "votes": [{"answer": g.answer, "count": g.count, "samples": [position[k] for k in g.members]} for g in run.vote.groups],
        "stopped_early": run.stopped_early, "cancelled": len(run.samples) - len(kept),
    }  # fmt: skip
    winner = 0 if run.vote.winner is None else position[run.vote.winner]
    return Attempt(samples, seconds, winner, run.tokens, details)


def best_of_n_solver(setup: Setup, *, scorer: str) -> Solve:
    """The best of `config.n` samples by the scorer called `scorer`; each sample keeps its score."""
    score_candidates = make_scorer(scorer, setup.model, setup.tokenizer, kind=setup.kind, config=setup.config)

    def solve(items: Sequence[tuple[int, str]]) -> Iterator[tuple[int, Attempt]]:
        clock = Clock()
        for results in generate_as_completed(setup.model, setup.tokenizer, _keyed(items), setup.config, on_step=setup.on_step):
            index = results[0].prompt_index
            question = setup.questions[items[index][1]]
            candidates = [candidate_from(question, r.prompt_token_ids, r, same_prompt=True) for r in results]
            best, scores = best_of_n(candidates, score_candidates)
            samples = tuple(
                completion_of(r, mean_logprob=_mean(r.logprobs), score=round(score.value, 4), scorer_note=score.note)
                for r, score in zip(results, scores)
            )  # fmt: skip
            tokens = sum(r.num_tokens for r in results) + sum(score.tokens for score in scores)
            yield index, Attempt(samples, clock.lap(), best, tokens)

    return solve


def self_refine_solver(setup: Setup, *, rounds: int, scorer: str) -> Solve:
    """A draft and up to `rounds` critique-and-revise rounds, ranked by the scorer called
    `scorer`; the draft is the sample, the best solution the answer, each round in the details.
    Problems refine in chunks of `max_batch_size` (each phase one batched generate), and each
    chunk's records are written as soon as it is done. Its samples are keyed by place in the
    chunk, so a resumed run may draw them differently."""
    score_candidates = make_scorer(scorer, setup.model, setup.tokenizer, kind=setup.kind, config=setup.config)

    def solve(items: Sequence[tuple[int, str]]) -> Iterator[tuple[int, Attempt]]:
        clock = Clock()
        prompts = [text for _, text in items]
        step = setup.config.max_batch_size
        for start in range(0, len(prompts), step):
            chunk = list(prompts[start : start + step])
            states = self_refine(
                setup.model, setup.tokenizer, [setup.questions[p] for p in chunk], chunk, scorer=score_candidates,
                config=setup.config, rounds=rounds, kind=setup.kind, enable_thinking=setup.enable_thinking,
            )  # fmt: skip
            for offset, state in enumerate(states):
                yield start + offset, _refined(state, clock.lap())

    return solve


def _refined(state: Refinement, seconds: float) -> Attempt:
    draft = _candidate_completion(state.draft, score=round(state.draft_score.value, 4))
    answer = 0 if state.best is state.draft else _candidate_completion(state.best)
    rounds = [
        {"critique": r.critique, "revision": r.revision, "answer": extract_answer(r.revision), "score": round(r.score, 4),
         "improved": r.improved, "tokens": r.tokens}
        for r in state.rounds
    ]  # fmt: skip
    return Attempt((draft,), seconds, answer, state.tokens, {"rounds": rounds})


def _candidate_completion(candidate: Candidate, **extra: Any) -> Completion:
    # A candidate remembers only whether it finished: no stop strings are set here, so it ended
    # at the end-of-sequence token or at the token budget.
    return Completion(candidate.text, len(candidate.token_ids), "eos" if candidate.finished else "length", extra)


def _keyed(items: Sequence[tuple[int, str]]) -> list[Prompt]:
    """The prompts, each drawing its samples from the streams of its problem's index."""
    return [Prompt(text, stream=index) for index, text in items]


def _mean(logprobs: Sequence[float]) -> float | None:
    return round(sum(logprobs) / len(logprobs), 4) if logprobs else None
