"""The torch side of the strategies (strategies.py): each builds the runner's `complete`
function, so every strategy evaluates on MATH-500 with the same records, resume and summary
as greedy decoding.

Every Completion carries the tokens the strategy generated for the problem (all samples,
critiques and judge replies), and its record keeps what the method saw: the votes, the
scored candidates, or each refinement round.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from reasoning.evaluation.runner import Clock, Complete, Completion
from reasoning.evaluation.strategies import Setup
from reasoning.generation.api import GenerationResult, Prompt, generate_as_completed
from reasoning.grading import extract_answer
from reasoning.scaling.best_of_n import best_of_n, make_scorer
from reasoning.scaling.refine import candidate_from, self_refine
from reasoning.scaling.voting import self_consistency


def engine_completer(setup: Setup) -> Complete:
    """One completion per prompt (greedy, chain of thought, or one sample), yielded as the
    engine finishes each."""

    def complete(items: Sequence[tuple[int, str]]) -> Iterator[tuple[int, Completion]]:
        clock = Clock()
        for [result] in generate_as_completed(setup.model, setup.tokenizer, _keyed(items), setup.config):
            yield result.prompt_index, Completion(result.text or "", result.num_tokens, clock.lap())

    return complete


def _keyed(items: Sequence[tuple[int, str]]) -> list[Prompt]:
    """The prompts, each drawing its samples from the streams of its problem's index."""
    return [Prompt(text, stream=index) for index, text in items]


def _sample_record(result: GenerationResult, answer: str | None) -> dict[str, Any]:
    mean = sum(result.logprobs) / len(result.logprobs) if result.logprobs else None
    return {
        "answer": answer, "tokens": result.num_tokens, "finish_reason": result.finish_reason,
        "mean_logprob": None if mean is None else round(mean, 4), "text": result.text or "",
    }  # fmt: skip


def self_consistency_completer(setup: Setup, *, n: int, tie_break: str, early_stop: bool) -> Complete:
    """The majority answer of `n` samples; the record keeps the votes and every sample."""
    config = replace(setup.config, n=n)

    def complete(items: Sequence[tuple[int, str]]) -> Iterator[tuple[int, Completion]]:
        clock = Clock()
        runs = self_consistency(setup.model, setup.tokenizer, _keyed(items), config, tie_break=tie_break, early_stop=early_stop)
        for run in runs:
            winner = run.samples[run.vote.winner if run.vote.winner is not None else 0]
            details = {
                "votes": [{"answer": g.answer, "count": g.count, "samples": list(g.members)} for g in run.vote.groups],
                "stopped_early": run.stopped_early,
                "samples": [_sample_record(s, a) for s, a in zip(run.samples, run.answers)],
            }
            yield run.prompt_index, Completion(winner.text or "", run.tokens, clock.lap(), details)

    return complete


def best_of_n_completer(setup: Setup, *, n: int, scorer: str) -> Complete:
    """The best of `n` samples by the scorer called `scorer`; the record keeps every scored candidate."""
    config = replace(setup.config, n=n)
    score_candidates = make_scorer(scorer, setup.model, setup.tokenizer, kind=setup.kind, config=setup.config)

    def complete(items: Sequence[tuple[int, str]]) -> Iterator[tuple[int, Completion]]:
        clock = Clock()
        for samples in generate_as_completed(setup.model, setup.tokenizer, _keyed(items), config):
            index = samples[0].prompt_index
            question = setup.questions[items[index][1]]
            candidates = [candidate_from(question, s.prompt_token_ids, s, same_prompt=True) for s in samples]
            best, scores = best_of_n(candidates, score_candidates)
            tokens = sum(s.num_tokens for s in samples) + sum(score.tokens for score in scores)
            details = {
                "chosen": best,
                "candidates": [
                    {**_sample_record(s, extract_answer(s.text or "")), "score": round(score.value, 4), "scorer_note": score.note}
                    for s, score in zip(samples, scores)
                ],
            }  # fmt: skip
            yield index, Completion(candidates[best].text, tokens, clock.lap(), details)

    return complete


def self_refine_completer(setup: Setup, *, rounds: int, scorer: str) -> Complete:
    """A draft and up to `rounds` critique-and-revise rounds, ranked by the scorer called `scorer`;
    the record keeps each round. Problems refine in chunks of `max_batch_size` (each phase one
    batched generate), and each chunk's records are written as soon as it is done. Its samples
    are keyed by place in the chunk, so a resumed run may draw them differently."""
    score_candidates = make_scorer(scorer, setup.model, setup.tokenizer, kind=setup.kind, config=setup.config)

    def complete(items: Sequence[tuple[int, str]]) -> Iterator[tuple[int, Completion]]:
        clock = Clock()
        prompts = [text for _, text in items]
        step = setup.config.max_batch_size
        for start in range(0, len(prompts), step):
            chunk = list(prompts[start : start + step])
            states = self_refine(
                setup.model, setup.tokenizer, [setup.questions[p] for p in chunk], chunk, scorer=score_candidates, config=setup.config,
                rounds=rounds, kind=setup.kind, enable_thinking=setup.enable_thinking,
            )  # fmt: skip
            for offset, state in enumerate(states):
                details = {
                    "draft": {"text": state.draft.text, "score": round(state.draft_score.value, 4), "answer": extract_answer(state.draft.text)},
                    "rounds": [
                        {"critique": r.critique, "revision": r.revision, "answer": extract_answer(r.revision),
                         "score": round(r.score, 4), "improved": r.improved, "tokens": r.tokens}
                        for r in state.rounds
                    ],
                }  # fmt: skip
                yield start + offset, Completion(state.best.text, state.tokens, clock.lap(), details)

    return complete

