"""Inference-time strategies as runner `complete` functions, so each one evaluates on MATH-500
with the same records, resume and summary as greedy decoding.

Every Completion carries the tokens the strategy generated for the problem (all samples,
critiques and judge replies), and its record keeps what the method saw: the votes, the
scored candidates, or each refinement round.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from torch import nn

from reasoning.evaluation.runner import Clock, Complete, Completion
from reasoning.evaluation.strategies import SCORERS, Strategy
from reasoning.generation.api import GenerationConfig, GenerationResult, generate_as_completed
from reasoning.grading import extract_answer
from reasoning.prompts import PromptKind
from reasoning.scaling.best_of_n import Scorer, best_of_n, heuristic_scores, judge_scorer, mean_logprob_scorer
from reasoning.scaling.refine import candidate_from, self_refine
from reasoning.scaling.voting import self_consistency
from reasoning.tokenizer import Qwen3Tokenizer


def strategy_completer(
    model: nn.Module,
    tokenizer: Qwen3Tokenizer,
    strategy: Strategy,
    config: GenerationConfig,
    questions: dict[str, str],
    *,
    kind: PromptKind,
    enable_thinking: bool = True,
) -> Complete:
    """The runner's `complete` for `strategy`; `questions` maps each prompt to its problem text
    (the judge and the critic read the problem, not the prompt)."""
    if strategy.samples and config.temperature == 0:
        raise ValueError(f"{strategy.name} samples: give it a temperature above 0")
    if strategy.name in ("greedy", "cot", "sample"):
        return engine_completer(model, tokenizer, config)
    if strategy.name == "self-consistency":
        return _self_consistency(model, tokenizer, strategy, replace(config, n=strategy.n))
    scorer = make_scorer(strategy.scorer, model, tokenizer, kind=kind, config=config)
    if strategy.name == "best-of-n":
        return _best_of_n(model, tokenizer, replace(config, n=strategy.n), scorer, questions)
    return _self_refine(model, tokenizer, strategy, config, scorer, questions, kind, enable_thinking)


def make_scorer(name: str, model: nn.Module, tokenizer: Qwen3Tokenizer, *, kind: PromptKind, config: GenerationConfig) -> Scorer:
    """The scorer called `name` (one of SCORERS)."""
    if name == "logprob":
        return mean_logprob_scorer(model)
    if name == "heuristic":
        return heuristic_scores
    if name == "judge":
        return judge_scorer(model, tokenizer, kind=kind, max_batch_size=config.max_batch_size, compile=config.compile)
    raise ValueError(f"unknown scorer {name!r}; choose one of {', '.join(SCORERS)}")


def engine_completer(model: nn.Module, tokenizer: Qwen3Tokenizer, config: GenerationConfig) -> Complete:
    """One completion per prompt (greedy, chain of thought, or one sample), yielded as the
    engine finishes each."""

    def complete(prompts: Sequence[str]) -> Iterator[tuple[int, Completion]]:
        clock = Clock()
        for [result] in generate_as_completed(model, tokenizer, list(prompts), config):
            yield result.prompt_index, Completion(result.text or "", result.num_tokens, clock.lap())

    return complete


def _sample_record(result: GenerationResult, answer: str | None) -> dict[str, Any]:
    mean = sum(result.logprobs) / len(result.logprobs) if result.logprobs else None
    return {
        "answer": answer, "tokens": result.num_tokens, "finish_reason": result.finish_reason,
        "mean_logprob": None if mean is None else round(mean, 4), "text": result.text or "",
    }  # fmt: skip


def _self_consistency(model: nn.Module, tokenizer: Qwen3Tokenizer, strategy: Strategy, config: GenerationConfig) -> Complete:
    def complete(prompts: Sequence[str]) -> Iterator[tuple[int, Completion]]:
        clock = Clock()
        runs = self_consistency(
            model, tokenizer, list(prompts), config, tie_break=strategy.tie_break, early_stop=strategy.early_stop
        )  # fmt: skip
        for run in runs:
            winner = run.samples[run.vote.winner if run.vote.winner is not None else 0]
            details = {
                "votes": [{"answer": g.answer, "count": g.count, "samples": list(g.members)} for g in run.vote.groups],
                "stopped_early": run.stopped_early,
                "samples": [_sample_record(s, a) for s, a in zip(run.samples, run.answers)],
            }
            yield run.prompt_index, Completion(winner.text or "", run.tokens, clock.lap(), details)

    return complete


def _best_of_n(
    model: nn.Module, tokenizer: Qwen3Tokenizer, config: GenerationConfig, scorer: Scorer, questions: dict[str, str]
) -> Complete:
    def complete(prompts: Sequence[str]) -> Iterator[tuple[int, Completion]]:
        clock = Clock()
        for samples in generate_as_completed(model, tokenizer, list(prompts), config):
            index = samples[0].prompt_index
            question = questions[prompts[index]]
            candidates = [candidate_from(question, s.prompt_token_ids, s, same_prompt=True) for s in samples]
            best, scores = best_of_n(candidates, scorer)
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


def _self_refine(
    model: nn.Module,
    tokenizer: Qwen3Tokenizer,
    strategy: Strategy,
    config: GenerationConfig,
    scorer: Scorer,
    questions: dict[str, str],
    kind: PromptKind,
    enable_thinking: bool,
) -> Complete:
    """Problems refine in chunks of `max_batch_size` (each phase one batched generate), and
    each chunk's records are written as soon as it is done."""

    def complete(prompts: Sequence[str]) -> Iterator[tuple[int, Completion]]:
        clock = Clock()
        step = config.max_batch_size
        for start in range(0, len(prompts), step):
            chunk = list(prompts[start : start + step])
            states = self_refine(
                model, tokenizer, [questions[p] for p in chunk], chunk, scorer=scorer, config=config,
                rounds=strategy.rounds, kind=kind, enable_thinking=enable_thinking,
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

