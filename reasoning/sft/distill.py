"""Distillation data by rejection sampling: a teacher samples n solutions per problem of a task,
the task's grade (the evaluation's) keeps the correct finished ones, and each is stored as a
`Trace` (thinking and answer apart), deduplicated within its problem.

Layout: the traces file (`out`, JSON Lines, see `traces`) and beside it `<out>.progress.jsonl`,
a settings header and then one line per finished problem with its counts. The evaluation's
streaming record loop (`evaluation.stream`) runs it: a problem's samples are graded off the
decode path, its traces appended and fsync'd, then its progress line, so a run
killed at any moment resumes with the problems not done: traces of a problem without a
progress line are dropped, and each problem's samples come from random streams keyed by its
index, so the resumed run draws what an uninterrupted one draws. When every problem is done
the traces file is put in problem order, so the finished file is the same however often the
run was interrupted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from torch import nn
from tqdm.auto import tqdm

from reasoning.data import Problem
from reasoning.evaluation.identity import model_settings
from reasoning.evaluation.records import RecordsError, RecordWriter, read_run, write_records
from reasoning.evaluation.stream import open_records, stream_records
from reasoning.evaluation.tasks import Task
from reasoning.generation.api import GenerationResult, Prompt, generate_as_completed
from reasoning.generation.options import GenerationConfig
from reasoning.sft.traces import Trace, dedup_key, split_completion
from reasoning.tokenizer import Qwen3Tokenizer
from reasoning.training.data import prompt_kind, task_prompts
from reasoning.vocab import control_token_in

# Qwen3's recommended sampling in thinking mode (model card): T 0.6, top-p 0.95.
DISTILL_CONFIG = GenerationConfig(max_new_tokens=4096, temperature=0.6, top_p=0.95, n=4, seed=0)
# The generation settings a resume must share with the run it continues.
SETTINGS = ("n", "temperature", "top_p", "top_k", "min_p", "max_new_tokens", "seed")
COUNTS = ("samples", "correct", "unfinished", "kept", "duplicates")
FINISHED = ("eos", "stop")  # not "length": a trace cut off by the budget is not a solution


def progress_path(out: str | Path) -> Path:
    """The progress file that goes with a traces file."""
    out = Path(out)
    return out.with_name(out.name + ".progress.jsonl")


def generate_traces(
    model: nn.Module,
    tokenizer: Qwen3Tokenizer,
    task: Task,
    out: str | Path,
    *,
    teacher: str,
    config: GenerationConfig = DISTILL_CONFIG,
    settings: dict[str, Any] | None = None,
    resume: bool = False,
    graders: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Sample `config.n` solutions per problem of `task` with thinking on, keep the finished ones
    the task grades correct (the answer after </think>) as traces in `out`; returns the run's
    counts by name (see `summarize`). The teacher reads the task's prompt (its "math" template:
    the boxed-answer math prompt; "plain": the problem as written).

    `settings` (e.g. the data source) join the teacher, prompt kind and sampling settings in the
    progress header; a resume under other settings, or a new run over results, is refused.
    """
    problems = task.problems
    _check(problems, config)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    records, progress_out = _open(out, _header(model, task, tokenizer, teacher, config, settings), resume)
    done = {record["id"] for record in records}
    todo = [index for index, problem in enumerate(problems) if problem.id not in done]
    prompts = [Prompt(text, stream=i) for text, i in zip(task_prompts(task, [problems[i] for i in todo], tokenizer), todo)]
    bar = tqdm(total=len(todo), disable=not progress, desc="distill", unit="problem")
    kept_so_far = sum(record["kept"] for record in records)

    def grade(position: int, results: list[GenerationResult]) -> tuple[dict[str, Any], list[Trace]]:
        return distill_problem(task, todo[position], results, teacher)

    def write(graded: tuple[dict[str, Any], list[Trace]]) -> None:
        nonlocal kept_so_far
        record, kept = graded
        for trace in kept:
            traces_out.write(trace.to_record())
        progress_out.write(record)  # after its traces: a problem marked done has all of them
        records.append(record)
        kept_so_far += record["kept"]
        bar.update()
        bar.set_postfix(kept=kept_so_far)

    finished = ((results[0].prompt_index, results) for results in generate_as_completed(model, tokenizer, prompts, config))
    with RecordWriter(out) as traces_out, progress_out:
        stream_records(finished, grade, write, workers=graders)
    bar.close()
    _in_problem_order(out, {record["id"]: record["index"] for record in records})
    return summarize(records)


def _check(problems: Sequence[Problem], config: GenerationConfig) -> None:
    """Refuse, before any sampling, what a run could not finish or resume: no problems, no seed,
    a control token in a question, two problems with one id."""
    if not problems:
        raise ValueError("nothing to distill: no problems (an empty dataset, or --limit 0)")
    if config.seed is None:
        raise ValueError("generate_traces needs a seed, so that a resumed run draws the samples an uninterrupted one does")
    for problem in problems:
        if token := control_token_in(problem.question):
            raise ValueError(f"problem {problem.id!r} holds the control token {token}: its trace could not be trained on")
    if len({problem.id for problem in problems}) != len(problems):
        raise ValueError("problem ids must be unique: the progress file tells the problems done by id")


def _header(
    model: nn.Module, task: Task, tokenizer: Qwen3Tokenizer, teacher: str, config: GenerationConfig, settings: dict[str, Any] | None
) -> dict[str, Any]:
    """The progress file's settings: the teacher (its weights, dtype, quantisation, device), prompt kind and template, sampling, `settings`, as they read back."""
    template = {"prompt": task.template} if task.template != "math" else {}  # recorded only when set: older runs keep resuming
    teacher_settings = {key.replace("model", "teacher"): value for key, value in model_settings(model, teacher).items()}
    header = {**teacher_settings, "kind": prompt_kind(tokenizer), **template, **{name: getattr(config, name) for name in SETTINGS}, **(settings or {})}
    return json.loads(json.dumps(header))


def distill_problem(
    task: Task, index: int, results: Sequence[GenerationResult], teacher: str
) -> tuple[dict[str, Any], list[Trace]]:
    """Problem `index`'s progress record and the traces it keeps: finished, split, correct, unique."""
    problem = task.problems[index]
    kept: list[Trace] = []
    seen: set[tuple[str, str, str]] = set()
    counts = dict.fromkeys(COUNTS, 0)
    counts["samples"] = len(results)
    for result in results:
        split = split_completion(result.text or "") if result.finish_reason in FINISHED else None
        if split is None or control_token_in(result.text or ""):  # cut off, thinking never closed, or malformed
            counts["unfinished"] += 1
            continue
        thinking, answer = split
        if not answer or not task.grade(problem, answer).correct:
            continue
        counts["correct"] += 1
        trace = Trace(
            problem=problem.question, thinking=thinking, answer=answer, id=f"{problem.id}#{result.sample_index}",
            problem_id=problem.id, gold=problem.answer, teacher=teacher,
            meta={"sample": result.sample_index, "tokens": result.num_tokens},
        )  # fmt: skip
        if dedup_key(trace) in seen:
            counts["duplicates"] += 1
            continue
        seen.add(dedup_key(trace))
        kept.append(trace)
    counts["kept"] = len(kept)
    failed = sum(result.finish_reason == "error" for result in results)  # an endpoint's requests, after retries
    return {"id": problem.id, "index": index, **counts, **({"failed": failed} if failed else {})}, kept


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The run's counts: problems done, samples, correct ones, unfinished ones (cut off by the
    budget, thinking never closed, or a control token such as <|im_start|> in the text), traces kept, duplicates dropped, problems with at least
    one trace, and the share of samples kept."""
    totals = {name: sum(record[name] for record in records) for name in COUNTS}
    return {
        "problems": len(records), **totals,
        "problems_with_trace": sum(record["kept"] > 0 for record in records),
        "keep_rate": totals["kept"] / totals["samples"] if totals["samples"] else 0.0,
    }  # fmt: skip


def read_progress(out: str | Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The settings and per-problem records of the run that wrote the traces file `out`."""
    return read_run(progress_path(out), required=("index", *COUNTS))


def refuse_existing(out: str | Path) -> None:
    """Refuse to start a run over a traces or progress file that holds results."""
    for path in (Path(out), progress_path(out)):
        if _holds(path):
            raise RecordsError(f"{path} already holds results: pass --resume to continue that run, or choose another --out")


def grade_traces(traces: Sequence[Trace], *, graders: int | None = None) -> list[bool]:
    """Whether each trace's answer is right against its gold, graded as a math task's answers are
    (imported traces: keep the correct)."""
    missing = next((trace for trace in traces if trace.gold is None), None)
    if missing is not None:
        raise ValueError(f"trace {missing.id!r} has no gold answer to grade against")
    task = Task("traces", tuple(Problem(trace.problem_id or trace.id, trace.problem, trace.gold) for trace in traces))
    with ThreadPoolExecutor(graders or os.cpu_count() or 2) as pool:
        return [grade.correct for grade in pool.map(task.grade, task.problems, [trace.answer for trace in traces])]


def _open(out: Path, header: dict[str, Any], resume: bool) -> tuple[list[dict[str, Any]], RecordWriter]:
    """The progress records so far and a writer appending to the progress file. A fresh run
    refuses files holding results; a resumed one checks the settings and drops the traces of
    problems without a progress line (written just before a kill), to be made again."""
    progress = progress_path(out)
    if not resume:
        refuse_existing(out)
    elif not _holds(progress) and _holds(out):
        raise RecordsError(f"cannot resume {out}: {progress} is missing, so the problems done are unknown")
    records, writer = open_records(progress, header, resume=resume)
    done = {record["id"] for record in records}
    traces = read_run(out, repair=True)[1] if out.is_file() else []
    finished = [trace for trace in traces if trace.get("problem_id") in done]
    if len(finished) < len(traces) or not out.is_file():
        write_records(out, finished, None)
    return records, writer


def _holds(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def _in_problem_order(out: Path, index_of: dict[str, int]) -> None:
    """Rewrite the traces file sorted by problem, then sample (they were appended as finished)."""
    _, traces = read_run(out)
    ordered = sorted(traces, key=lambda trace: (index_of[trace["problem_id"]], trace["meta"]["sample"]))
    if ordered != traces:
        write_records(out, ordered, None)
