"""Self-refinement: draft, then critique and revise for up to K rounds, keeping the best.

After Madaan et al. 2023 ("Self-Refine"): the model reviews its own solution
(`CRITIQUE_PROMPT`), then rewrites it using the review (`REVISE_PROMPT`). A scorer rates each
revision as an answer to the original problem; the best solution so far is kept, and a
problem stops refining at the first round whose revision does not score higher (so extra
rounds are spent only where they help). All problems in a call refine together: each phase
is one batched `generate` over the problems still refining.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from torch import nn

from reasoning.generation.api import GenerationConfig, GenerationResult, Tokenizer, generate
from reasoning.prompts import CRITIQUE_PROMPT, REVISE_PROMPT, PromptKind, fill, task_prompt, visible_text
from reasoning.scaling.best_of_n import Candidate, Score, Scorer
from reasoning.tokenizer import format_chat


@dataclass(frozen=True)
class Round:
    """One critique-and-revise round: what was said, what it produced, and whether it helped."""

    critique: str
    revision: str
    score: float
    improved: bool
    tokens: int  # generated in this round: critique, revision, and any scoring


@dataclass
class Refinement:
    """A problem's refinement: the draft, each round, and the best solution found."""

    draft: Candidate
    draft_score: Score
    best: Candidate
    best_score: float
    rounds: list[Round] = field(default_factory=list)
    tokens: int = 0  # all tokens generated for this problem, draft and scoring included
    done: bool = False


def candidate_from(question: str, prompt_ids: Sequence[int], result: GenerationResult, *, same_prompt: bool) -> Candidate:
    """A generation result as a candidate answer to `prompt_ids`; its log-probs are kept only
    when it was generated from that very prompt (otherwise a scorer must recompute them)."""
    return Candidate(
        question=question,
        text=result.text or "",
        prompt_ids=tuple(prompt_ids),
        token_ids=result.token_ids,
        finished=result.finish_reason != "length",
        logprobs=result.logprobs if same_prompt else None,
    )


def self_refine(
    model: nn.Module,
    tokenizer: Tokenizer,
    questions: Sequence[str],
    prompts: Sequence[str],
    *,
    scorer: Scorer,
    config: GenerationConfig,
    rounds: int = 2,
    kind: PromptKind = "base",
    enable_thinking: bool = False,
) -> list[Refinement]:
    """Refine a solution to each question (asked as `prompts[k]`) for up to `rounds` rounds.

    The drafts come from `prompts` under `config`; critiques and revisions use the same
    config (token budget, sampling) with the prompts of `reasoning.prompts`, shown as a chat
    turn to reasoning models (`kind`), thinking on only if `enable_thinking`.
    """
    if len(questions) != len(prompts):
        raise ValueError(f"{len(questions)} questions but {len(prompts)} prompts")
    if rounds < 0:
        raise ValueError(f"rounds must be >= 0, got {rounds}")
    config = replace(config, n=1)
    prompt_ids = [tokenizer.encode(prompt) for prompt in prompts]
    # Drafts are scored like revisions (log-probs recomputed, not taken from generation), so
    # a revision identical to its draft scores exactly the same and does not count as better.
    drafts = [
        candidate_from(question, ids, result, same_prompt=False)
        for question, ids, result in zip(questions, prompt_ids, generate(model, tokenizer, prompt_ids, config))
    ]  # fmt: skip
    draft_scores = scorer(drafts)
    states = [
        Refinement(draft, score, draft, score.value, tokens=len(draft.token_ids) + score.tokens)
        for draft, score in zip(drafts, draft_scores)
    ]  # fmt: skip

    chat = getattr(tokenizer, "apply_chat_template", format_chat)  # the checkpoint's template, if any

    def ask(template: str, **fields: str) -> str:
        return task_prompt(fill(template, **fields), kind=kind, enable_thinking=enable_thinking, chat=chat)

    for _ in range(rounds):
        active = [state for state in states if not state.done]
        if not active:
            break
        _refine_round(model, tokenizer, active, ask, scorer, config)
    return states


def _refine_round(
    model: nn.Module, tokenizer: Tokenizer, active: list[Refinement], ask: Callable[..., str], scorer: Scorer,
    config: GenerationConfig,
) -> None:  # fmt: skip
    """One round for the problems still refining: a critique of each best solution, a revision
    using it, and its score; a revision is kept if it scores higher, else its problem stops."""
    solutions = {id(s): visible_text(s.best.text) for s in active}
    critique_prompts = [ask(CRITIQUE_PROMPT, problem=s.best.question, solution=solutions[id(s)]) for s in active]
    critiques = generate(model, tokenizer, critique_prompts, config)
    revise_prompts = [
        ask(REVISE_PROMPT, problem=s.best.question, solution=solutions[id(s)], critique=visible_text(c.text or ""))
        for s, c in zip(active, critiques)
    ]  # fmt: skip
    revisions = generate(model, tokenizer, revise_prompts, config)
    candidates = [candidate_from(s.best.question, s.best.prompt_ids, r, same_prompt=False) for s, r in zip(active, revisions)]
    for state, critique, candidate, score in zip(active, critiques, candidates, scorer(candidates)):
        improved = score.value > state.best_score
        tokens = critique.num_tokens + len(candidate.token_ids) + score.tokens
        state.rounds.append(Round(critique.text or "", candidate.text, score.value, improved, tokens))
        state.tokens += tokens
        if improved:
            state.best, state.best_score = candidate, score.value
        else:
            state.done = True
