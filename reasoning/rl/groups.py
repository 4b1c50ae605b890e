"""A GRPO step's groups: its problems, G sampled completions of each, scored, dynamic sampling.

Step k's problems are a consecutive slice of seeded per-epoch shuffles, so step k always sees
the same ones. Each is prompted as the task prompts it (`reasoning.training.data.task_prompts`),
sampled G times from the policy's plain copy with the engine, and scored by the rewards; groups
of equal rewards teach nothing, and dynamic sampling skips them or refills them with new prompts.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from reasoning.data import Problem
from reasoning.evaluation.tasks import Task
from reasoning.generation.api import GenerationConfig, GenerationResult
from reasoning.generation.sampling import request_key
from reasoning.rl.config import GRPOConfig
from reasoning.rl.losses import zero_variance_groups
from reasoning.rl.rewards import Reward, add_length_rewards, score
from reasoning.rl.rollout import RolloutBatch, generate_rollouts, pack
from reasoning.training.data import task_prompts
from reasoning.training.learner import Learner


def step_problems(problems: Sequence[Problem], step: int, count: int, seed: int) -> list[Problem]:
    """The `count` problems of step `step` (from 1): consecutive slices of seeded per-epoch shuffles."""
    chosen, position = [], (step - 1) * count
    while len(chosen) < count:
        epoch, offset = divmod(position, len(problems))
        order = list(range(len(problems)))
        random.Random(request_key(seed, epoch)).shuffle(order)
        take = min(count - len(chosen), len(problems) - offset)
        chosen += [problems[i] for i in order[offset : offset + take]]
        position += take
    return chosen


@dataclass
class ScoredGroups:
    """A step's scored groups on one rank: those kept for training and totals over all generated."""

    group_size: int
    kept: list[GenerationResult] = field(default_factory=list)
    kept_rewards: list[float] = field(default_factory=list)
    count: int = 0
    reward_sum: float = 0.0
    reward_squares: float = 0.0
    correct: float = 0.0
    format: float = 0.0
    tokens: int = 0
    truncated: int = 0
    skipped: int = 0  # groups of equal rewards left out
    parts: set[str] = field(default_factory=set)
    examples: list[tuple[Problem, float, str]] = field(default_factory=list)  # one per group
    placeholder: list[GenerationResult] = field(default_factory=list)
    placeholder_rewards: list[float] = field(default_factory=list)
    kept_parts: dict[str, list[float]] = field(default_factory=dict)  # each reward's values on the kept rows (GDPO)
    placeholder_parts: dict[str, list[float]] = field(default_factory=dict)
    part_sums: dict[str, float] = field(default_factory=dict)  # each reward's sum and sum of squares, all scored
    part_squares: dict[str, float] = field(default_factory=dict)

    def add(self, results: list[GenerationResult], problems: list[Problem], totals: list[float], parts: dict[str, list[float]]) -> None:
        """Count one round of scored completions (kept or not)."""
        G = self.group_size
        self.count += len(results)
        self.reward_sum += sum(totals)
        self.reward_squares += sum(t * t for t in totals)
        self.correct += sum(parts.get("correct", ()))
        self.format += sum(parts.get("format", ()))
        self.tokens += sum(r.num_tokens for r in results)
        self.truncated += sum(r.finish_reason == "length" for r in results)
        self.parts |= set(parts)
        for name, values in parts.items():
            self.part_sums[name] = self.part_sums.get(name, 0.0) + sum(values)
            self.part_squares[name] = self.part_squares.get(name, 0.0) + sum(v * v for v in values)
        self.examples += [(problems[i], totals[i], results[i].text or "") for i in range(0, len(results), G)]
        if not self.placeholder:
            self.placeholder, self.placeholder_rewards = results[:G], totals[:G]
            self.placeholder_parts = {name: values[:G] for name, values in parts.items()}

    def keep(self, results: list[GenerationResult], totals: list[float], parts: dict[str, list[float]], group: int) -> None:
        """Keep group `group` of this round for training."""
        rows = slice(group * self.group_size, (group + 1) * self.group_size)
        self.kept += results[rows]
        self.kept_rewards += totals[rows]
        for name, values in parts.items():
            self.kept_parts.setdefault(name, []).extend(values[rows])

    def training_parts(self, names: list[str]) -> torch.Tensor:
        """[K, N] the values of the rewards `names` on the rows `training_batch` packs."""
        parts = self.kept_parts if self.kept else self.placeholder_parts
        return torch.tensor([parts[name] for name in names], dtype=torch.float32)

    def training_batch(self, pad_id: int, device: torch.device) -> tuple[RolloutBatch, torch.Tensor, torch.Tensor]:
        """The kept groups packed, their rewards, and each row's weight (1; 0 for a placeholder)."""
        results, rewards, active = self.kept, self.kept_rewards, torch.ones(len(self.kept))
        if not results:  # every group was skipped here: a placeholder group of weight 0 keeps ranks in step
            results, rewards, active = self.placeholder, self.placeholder_rewards, torch.zeros(self.group_size)
        return pack(results, pad_id, device), torch.tensor(rewards), active

    def sums(self) -> dict[str, float]:
        """The totals to add up over ranks, by name."""
        return {
            "completions": self.count, "reward": self.reward_sum, "reward_squares": self.reward_squares,
            "correct": self.correct, "format": self.format, "tokens": self.tokens, "truncated": self.truncated,
            "groups_skipped": self.skipped, "groups_used": len(self.kept) // self.group_size,
            **{f"part:{name}": value for name, value in self.part_sums.items()},
            **{f"part_squares:{name}": value for name, value in self.part_squares.items()},
        }  # fmt: skip

    def samples(self, step: int, limit: int) -> list[dict[str, Any]]:
        """The first `limit` groups' first completions, for the samples log."""
        return [{"step": step, "problem": p.id, "reward": r, "completion": text} for p, r, text in self.examples[:limit]]


def sample_and_score(
    learner: Learner[GRPOConfig], task: Task, mine: list[Problem], step: int, rewards: Sequence[Reward]
) -> ScoredGroups:
    """Sample G completions of each prompt and score them, with dynamic sampling: groups of
    equal rewards teach nothing and are skipped, or (refill) replaced by groups of new prompts."""
    config, G = learner.config, learner.config.group_size
    groups = ScoredGroups(G)
    batch = mine
    rounds = 1 + (config.max_refills if config.dynamic_sampling == "refill" else 0)
    for round_ in range(rounds):
        seed = request_key(config.seed, step, round_, learner.world.rank)
        results = sample(learner, task_prompts(task, batch, learner.tokenizer), seed)
        expanded = [p for p in batch for _ in range(G)]
        totals, parts = score([r.text or "" for r in results], expanded, rewards)
        totals, parts = add_length_rewards(totals, parts, [r.num_tokens for r in results], config)
        groups.add(results, expanded, totals, parts)
        keep = torch.ones(len(batch), dtype=torch.bool)
        if config.dynamic_sampling != "off":
            keep = ~zero_variance_groups(torch.tensor(totals), G)
            groups.skipped += int((~keep).sum())
        for group in keep.nonzero().flatten().tolist()[: len(mine) - len(groups.kept) // G]:
            groups.keep(results, totals, parts, group)
        need = len(mine) - len(groups.kept) // G
        if config.dynamic_sampling != "refill" or need == 0:
            break
        batch = random.Random(seed).sample(list(task.problems), min(need, len(task.problems)))  # DAPO: sample more prompts
    return groups


def sample(learner: Learner[GRPOConfig], prompts: list[str], seed: int) -> list[GenerationResult]:
    """G completions of each prompt from the plain copy of the policy, grouped by prompt."""
    config = learner.config
    decoding = GenerationConfig(
        n=config.group_size, max_new_tokens=config.max_new_tokens, temperature=config.temperature, top_p=config.top_p,
        seed=seed, max_batch_size=config.max_batch_size, thinking_budget=config.thinking_budget or None,
    )  # fmt: skip
    return generate_rollouts(learner.plain, learner.tokenizer, prompts, decoding)
