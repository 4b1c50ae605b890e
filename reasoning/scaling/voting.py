"""Self-consistency: sample several solutions, and answer with the one most of them reach.

Wang et al. 2023 ("Self-Consistency Improves Chain of Thought Reasoning") vote over final
answers. Answers are grouped by mathematical equivalence through the grader, not by string
equality, so "1/2", "0.5" and "\\frac{1}{2}" are one vote. Ties break deterministically: by
the group seen first (lowest sample index), or by the higher mean token log-probability of
the group's samples and then by the group seen first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from torch import nn

from reasoning.generation.api import GenerationConfig, GenerationResult, Prompt, Tokenizer, generate_as_completed
from reasoning.generation.endpoint import Endpoint, refuse_remote
from reasoning.grading import extract_answer
from reasoning.grading.groups import AnswerGroups, Equivalent, grader_equivalent

TieBreak = Literal["first", "logprob"]


@dataclass(frozen=True)
class VoteGroup:
    """Samples whose answers are equivalent; `answer` is the first one's, as written."""

    answer: str
    members: tuple[int, ...]  # sample indices, ascending
    mean_logprob: float | None = None  # mean over members of each sample's mean token log-prob

    @property
    def count(self) -> int:
        return len(self.members)


@dataclass(frozen=True)
class Vote:
    """The outcome: groups ranked best first; `answer` is None when no sample gave one."""

    groups: tuple[VoteGroup, ...]
    abstained: tuple[int, ...] = ()  # samples with no answer

    @property
    def answer(self) -> str | None:
        return self.groups[0].answer if self.groups else None

    @property
    def winner(self) -> int | None:
        """The sample whose text carries the winning answer (the group's first member)."""
        return self.groups[0].members[0] if self.groups else None


def majority_vote(
    answers: Sequence[str | None],
    *,
    logprobs: Sequence[float] | None = None,
    tie_break: TieBreak = "first",
    equivalent: Equivalent | None = None,
) -> Vote:
    """Group `answers` (one per sample; None for no answer) and rank the groups.

    Groups rank by size; among equal sizes by `tie_break`: "first" prefers the group whose
    first sample comes first, "logprob" the higher mean of `logprobs` (each sample's mean
    token log-probability), then the group seen first.
    """
    if logprobs is not None and len(logprobs) != len(answers):
        raise ValueError(f"{len(answers)} answers but {len(logprobs)} log-probs")
    if tie_break == "logprob" and logprobs is None:
        raise ValueError("tie_break='logprob' needs the samples' log-probs")
    if tie_break not in ("first", "logprob"):
        raise ValueError(f"unknown tie_break {tie_break!r}; expected 'first' or 'logprob'")
    groups = AnswerGroups(equivalent)
    for sample, answer in enumerate(answers):
        if answer is not None:
            groups.add(sample, answer)
    return count_votes(groups, logprobs=logprobs, tie_break=tie_break, abstained=[k for k, a in enumerate(answers) if a is None])


def count_votes(
    groups: AnswerGroups,
    *,
    logprobs: Sequence[float] | None = None,
    tie_break: TieBreak = "first",
    abstained: Sequence[int] = (),
) -> Vote:
    """Rank the groups collected so far (see `majority_vote`)."""
    ranked = []
    for answer, members in zip(groups.answers, groups.members):
        mean = None if logprobs is None else sum(logprobs[k] for k in members) / len(members)
        ranked.append(VoteGroup(answer, tuple(sorted(members)), mean))

    def rank(group: VoteGroup) -> tuple:
        by_logprob = -group.mean_logprob if tie_break == "logprob" and group.mean_logprob is not None else 0.0
        return (-group.count, by_logprob, group.members[0])

    return Vote(tuple(sorted(ranked, key=rank)), tuple(abstained))


def decided(vote: Vote, remaining: int) -> bool:
    """True when `remaining` more samples cannot change the winner: the leader has more votes
    than the runner-up could reach even if every remaining sample joined it (ties excluded)."""
    if not vote.groups:
        return False
    runner_up = vote.groups[1].count if len(vote.groups) > 1 else 0
    return vote.groups[0].count > runner_up + remaining


@dataclass(frozen=True)
class Consistency:
    """Self-consistency on one prompt: every sample, its answer, and the vote."""

    prompt_index: int
    samples: tuple[GenerationResult, ...]  # by sample index; cancelled ones too (early stop)
    answers: tuple[str | None, ...]  # None for no answer, or a sample cancelled before finishing
    vote: Vote
    stopped_early: bool

    @property
    def answer(self) -> str | None:
        return self.vote.answer

    @property
    def tokens(self) -> int:
        """Tokens generated for this prompt, cancelled samples' included (the compute spent)."""
        return sum(sample.num_tokens for sample in self.samples)


def self_consistency(
    model: nn.Module,
    tokenizer: Tokenizer,
    prompts: Sequence[str | Sequence[int] | Prompt],
    config: GenerationConfig,
    *,
    tie_break: TieBreak = "first",
    early_stop: bool = False,
    equivalent: Equivalent | None = None,
) -> Iterator[Consistency]:
    """Sample `config.n` completions per prompt and vote; yields each prompt as it finishes.

    The n samples of a prompt share one prefill and decode side by side in the engine. With
    `early_stop`, a prompt stops sampling as soon as its vote is `decided`: the samples still
    running are cancelled (their tokens count as spent, their answers do not vote).
    """
    if config.n > 1 and config.temperature == 0:
        raise ValueError("self-consistency needs sampling: with temperature 0 all n samples are the same")
    if tie_break == "logprob" and isinstance(model, Endpoint):  # the OpenAI API returns text, not log-probs
        refuse_remote("tie_break='logprob'")
    equivalent = equivalent or grader_equivalent()
    groups: dict[int, tuple[AnswerGroups, set[int]]] = {}

    def collect(index: int, finished: Sequence[GenerationResult]) -> AnswerGroups:
        answer_groups, seen = groups.setdefault(index, (AnswerGroups(equivalent), set()))
        for result in finished:
            if result.sample_index not in seen and result.finish_reason != "cancelled":
                seen.add(result.sample_index)
                answer = extract_answer(result.text or "")
                if answer is not None:
                    answer_groups.add(result.sample_index, answer)
        return answer_groups

    def stop_early(index: int, finished: list[GenerationResult]) -> bool:
        return decided(count_votes(collect(index, finished)), config.n - len(finished))

    for samples in generate_as_completed(model, tokenizer, prompts, config, stop_early=stop_early if early_stop else None):
        index = samples[0].prompt_index
        groups.pop(index, None)
        answers = tuple(None if s.finish_reason == "cancelled" else extract_answer(s.text or "") for s in samples)
        logprobs = [sum(s.logprobs) / len(s.logprobs) if s.logprobs else 0.0 for s in samples]
        # Counted afresh in sample order, so the result does not depend on which sample finished first.
        vote = majority_vote(answers, logprobs=logprobs, tie_break=tie_break, equivalent=equivalent)
        yield Consistency(index, tuple(samples), answers, vote, any(s.finish_reason == "cancelled" for s in samples))
