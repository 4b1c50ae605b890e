"""An evaluation: tasks prompted, solved by a strategy under a sampling protocol, graded, recorded.

`evaluate` runs a model on tasks (benchmarks, or any problems with golds) into a run directory
(`rundir`): each task's problems are prompted, each problem solved by the strategy (independent
samples, self-consistency, best-of-N, self-refinement; or, for multiple choice, read off the
letters' likelihoods), graded by the task off the decode path, and recorded one line per
problem as it finishes (`stream`), then summarised into summary.json. `evaluate_task` is the
part that needs no model: any `Solve` function works.

Problem i's samples are drawn from random streams keyed by i (its place in the task), so a
resumed run, or one split over torchrun's ranks (each takes problems rank, rank + world, ...),
draws the samples an uninterrupted run draws.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn
from tqdm.auto import tqdm

from reasoning import distributed
from reasoning.distributed import World
from reasoning.evaluation.attempts import Attempt, Solve
from reasoning.evaluation.fewshot import load_fewshot, with_stop
from reasoning.evaluation.identity import model_settings
from reasoning.evaluation.problem_record import problem_record
from reasoning.evaluation.protocols import PROTOCOLS, SCORING, Protocol
from reasoning.evaluation.records import RecordsError, holds_records, read_run
from reasoning.evaluation.rundir import SUMMARY_FILE, records_path, task_files, write_summary
from reasoning.evaluation.solvers import Setup, loglik_solver
from reasoning.evaluation.strategies import Independent, Strategy
from reasoning.evaluation.stream import open_records, stream_records
from reasoning.evaluation.summary import problem_score
from reasoning.evaluation.tasks import GRADE_TIMEOUT, Task
from reasoning.generation.api import GenerationConfig, Tokenizer
from reasoning.generation.options import THINKING_FIELDS
from reasoning.prompts import PromptKind

CHOICE_LETTERS = "ABCDEFGHIJ"


def evaluate_task(
    task: Task,
    prompts: Sequence[str],
    solve: Solve,
    out_dir: str | Path,
    *,
    settings: dict[str, Any],
    resume: bool = False,
    world: World = World(),
    grade_timeout: float = GRADE_TIMEOUT,
    graders: int | None = None,
    progress: bool = True,
    meter: TokenMeter | None = None,
    after_thinking: bool = False,
) -> list[dict[str, Any]]:
    """Evaluate this rank's share of the task's problems, appending one record per problem to
    its records file under `settings` (a resumed run continues only under the same settings);
    returns this share's records in problem order. `meter`, fed by the solver's decoding,
    shows tokens and tokens/s on the progress bar as they are decoded. `after_thinking`: grade
    only what follows </think> (`evaluation.after_thinking`)."""
    problems = task.problems
    if not problems:
        raise ValueError(f"nothing to evaluate: {task.name} has no problems (an empty file, or --limit 0)")
    if len(problems) != len(prompts):
        raise ValueError(f"{len(problems)} problems but {len(prompts)} prompts")
    out = records_path(out_dir, task.name, world)
    header = {"task": task.name, "task_kind": task.kind, "template": task.template, **settings}
    records, writer = open_records(out, header, resume=resume)
    check_same_problems(task, records, out)
    done = {record["id"] for record in records} | _done_elsewhere(out_dir, task.name, out)
    todo = [i for i in range(world.rank, len(problems), world.world_size) if problems[i].id not in done]
    if progress and records:
        tqdm.write(f"resuming {task.name}: {len(problems) - len(todo)} of {len(problems)} problems done", file=sys.stderr)
    bar = tqdm(total=len(todo), disable=not progress, desc=task.name, unit="problem")
    meter = meter or TokenMeter()
    meter.bar = bar
    score = sum(map(problem_score, records))

    def grade(position: int, attempt: Attempt) -> dict[str, Any]:
        i = todo[position]
        return problem_record(task, problems[i], i, prompts[i], attempt, grade_timeout, after_thinking=after_thinking)

    def write(record: dict[str, Any]) -> None:
        nonlocal score
        writer.write(record)
        records.append(record)
        score += problem_score(record)
        meter.figures["accuracy"] = f"{score / len(records):.1%}"
        meter.show()
        bar.update()

    with writer:
        stream_records(solve([(i, prompts[i]) for i in todo]), grade, write, workers=graders)
    bar.close()
    return sorted(records, key=lambda record: record["index"])


class TokenMeter:
    """The progress bar's figures: accuracy so far, and the tokens decoded and their rate, shown
    while decoding goes on (a bar that moved only when a problem finished would sit at 0% for
    the length of a long sample)."""

    def __init__(self, every: float = 0.5) -> None:
        self.tokens, self.every = 0, every
        self.started = self.shown = time.perf_counter()
        self.figures: dict[str, str] = {}
        self.bar: tqdm | None = None

    def add(self, tokens: int) -> None:
        """Count one engine step's tokens; refresh the bar at most every `every` seconds."""
        self.tokens += tokens
        if time.perf_counter() - self.shown >= self.every:
            self.show()

    def show(self) -> None:
        self.shown = time.perf_counter()
        if self.bar is not None:
            rate = self.tokens / max(self.shown - self.started, 1e-9)
            self.bar.set_postfix(self.figures | {"tokens": self.tokens, "tok/s": f"{rate:.1f}"})


def check_same_problems(task: Task, records: Sequence[dict[str, Any]], path: Path) -> None:
    """Refuse to resume records made on other problems under the same ids (another --data file,
    a changed benchmark): each recorded problem's question and gold must be the task's."""
    problems = {problem.id: problem for problem in task.problems}
    for record in records:
        problem = problems.get(record["id"])
        if problem is not None and (record["question"], record["gold"]) != (problem.question, problem.answer):
            field = "question" if record["question"] != problem.question else "gold"
            raise RecordsError(
                f"cannot resume {path}: problem {record['id']!r} was recorded with another {field} than {task.name}'s "
                "(other data under the same ids); choose another --out"
            )


def _done_elsewhere(out_dir: str | Path, task: str, own: Path) -> set[str]:
    """Problem ids already in the task's other record files (other ranks, or a run with another
    number of ranks), so no problem is evaluated twice."""
    done: set[str] = set()
    for path in task_files(out_dir, task):
        if path != own:
            done |= {record["id"] for record in read_run(path, live=True)[1]}  # another rank may be writing it
    return done


def evaluate(
    model: nn.Module,
    tokenizer: Tokenizer,
    tasks: Sequence[Task],
    out_dir: str | Path,
    *,
    model_name: str,
    protocol: Protocol = PROTOCOLS["greedy"],
    strategy: Strategy = Independent(),
    kind: PromptKind | None = None,
    enable_thinking: bool = True,
    cot: bool = False,
    data_dir: str | Path | None = None,
    scoring: str = "generate",
    seed: int = 0,
    batch_size: int = 16,
    compile: bool | None = None,
    thinking: dict[str, Any] | None = None,
    grade_timeout: float = GRADE_TIMEOUT,
    grade_after_thinking: bool | None = None,
    resume: bool = False,
    world: World | None = None,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Evaluate each task in turn into out_dir (records per task, then summary.json); returns
    {task: its summary} (on every rank, once all ranks are done).

    kind: "base" (plain text) or "reasoning" (chat template); None: the tokenizer's. scoring
    "generate": `strategy` over `protocol.n` samples; "loglik" (multiple choice): each letter's
    likelihood. The protocol also names the prompt preset and the few-shot exemplars (MMLU's
    dev split from `data_dir` where it is). `thinking`: GenerationConfig's thinking fields.
    `grade_after_thinking`: only the text after </think> is graded; None: for reasoning models.
    """
    world, chat = world or distributed.current_world(), tokenizer.apply_chat_template
    kind = "base" if scoring == "loglik" else kind or ("base" if getattr(tokenizer, "base", False) else "reasoning")
    check_combination(tasks, protocol, strategy, scoring)
    config = generation_config(protocol, seed=seed, batch_size=batch_size, compile=compile, thinking=thinking)
    enable_thinking = enable_thinking and protocol.enable_thinking  # off if either says so (qwen3-nothink, --no-thinking)
    after_thinking = kind == "reasoning" if grade_after_thinking is None else grade_after_thinking
    settings = {**model_settings(model, model_name), "scoring": scoring, "kind": kind, "grade_timeout": grade_timeout,
                "grade_after_thinking": after_thinking}  # fmt: skip
    if scoring != "loglik":  # what decides the samples, and what is done with them
        settings.update(_sampling_settings(protocol, strategy, config, cot=cot, enable_thinking=enable_thinking, seed=seed))
    problem_ids = {task.name: [problem.id for problem in task.problems] for task in tasks}  # what the summary covers
    for task in tasks:
        meter = TokenMeter()
        fewshot = load_fewshot(task.name, task.kind, protocol.shots, data_dir=data_dir) if protocol.shots != 0 else None
        prompts = [task.prompt(p, kind=kind, enable_thinking=enable_thinking, cot=cot, chat=chat, prompt=protocol.prompt, shots=fewshot)
                   for p in task.problems]  # fmt: skip
        if scoring == "loglik":
            letters = CHOICE_LETTERS[: max((len(p.meta["choices"]) for p in task.problems), default=0)]
            solve = loglik_solver(model, tokenizer, letters, batch_size=batch_size)
        else:  # the few-shot format's stop strings end each sample where the next question would begin
            questions = {text: problem.question for text, problem in zip(prompts, task.problems)}
            solve = strategy.solver(Setup(model, tokenizer, with_stop(config, fewshot), questions, kind, enable_thinking, meter.add))
        evaluate_task(
            task, prompts, solve, out_dir, settings={**settings, **task.prompt_settings(protocol.prompt, fewshot)}, resume=resume,
            world=world, grade_timeout=grade_timeout, progress=progress, meter=meter, after_thinking=after_thinking,
        )  # fmt: skip
        distributed.barrier(world)
        if world.is_main:
            write_summary(out_dir, problems=problem_ids)
        distributed.barrier(world)  # every rank reads the summary below
    summaries = json.loads((Path(out_dir) / SUMMARY_FILE).read_text())
    return {task.name: summaries[task.name] for task in tasks}


def _sampling_settings(
    protocol: Protocol, strategy: Strategy, config: GenerationConfig, *, cot: bool, enable_thinking: bool, seed: int
) -> dict[str, Any]:
    """The settings that decide a run's samples and what is done with them; the thinking-control
    fields only when set, so runs without thinking control keep resuming."""
    settings = {"cot": cot, **strategy.settings(), **protocol.settings(), "enable_thinking": enable_thinking, "seed": seed}
    if config.controls_thinking:
        settings.update({name: getattr(config, name) for name in THINKING_FIELDS})
    return settings


def generation_config(
    protocol: Protocol, *, seed: int = 0, batch_size: int = 16, compile: bool | None = None, thinking: dict[str, Any] | None = None
) -> GenerationConfig:
    """How each sample is decoded under `protocol`, with GenerationConfig's thinking fields
    `thinking`; raises ValueError on options that cannot go together (call it before loading a model)."""
    return GenerationConfig(
        max_new_tokens=protocol.max_new_tokens, temperature=protocol.temperature, top_p=protocol.top_p,
        top_k=protocol.top_k, min_p=protocol.min_p, presence_penalty=protocol.presence_penalty,
        frequency_penalty=protocol.frequency_penalty, n=protocol.n, seed=seed, max_batch_size=batch_size, compile=compile,
    ).with_options(**(thinking or {}))  # fmt: skip


def check_not_started(out_dir: str | Path, tasks: Sequence[Task], resume: bool) -> None:
    """Refuse, before any model is loaded, a run directory that already holds records of one
    of `tasks` when not resuming (one run's records are never mixed with another's)."""
    if resume:
        return
    for task in tasks:
        started = [path for path in task_files(out_dir, task.name) if holds_records(path)]
        if started:
            raise RecordsError(f"{started[0]} already holds results: pass --resume to continue that run, or choose another --out")


def check_combination(tasks: Sequence[Task], protocol: Protocol, strategy: Strategy, scoring: str) -> None:
    """Refuse, before any model is loaded, what cannot run together: letter likelihoods of
    open-ended problems, a math strategy on multiple choice, several samples for self-refinement."""
    if scoring not in SCORING:
        raise ValueError(f"unknown scoring {scoring!r}; choose one of {', '.join(SCORING)}")
    kinds = {task.name: task.kind for task in tasks}
    if scoring == "loglik":
        open_ended = [name for name, kind in kinds.items() if kind != "choice"]
        if open_ended:
            raise ValueError(f"loglik scoring reads a choice letter; {', '.join(open_ended)} is not multiple choice")
        if not isinstance(strategy, Independent):
            raise ValueError(f"loglik scoring reads one letter per problem; the {strategy.name} strategy needs generated samples")
    if strategy.math_only and any(kind != "math" for kind in kinds.values()):
        choice = [name for name, kind in kinds.items() if kind != "math"]
        raise ValueError(f"the {strategy.name} strategy reads math answers; {', '.join(choice)} is multiple choice")
    if strategy.single_sample and protocol.n != 1:
        raise ValueError(f"{strategy.name} refines one sample per problem: use n 1, not {protocol.n}")
