"""Distillation data by rejection sampling: a teacher samples n solutions per problem, the
grader keeps the correct finished ones, and each is stored as a `Trace` (thinking and answer
apart), deduplicated within its problem.

Layout: the traces file (`out`, JSON Lines, see `traces`) and beside it `<out>.progress.jsonl`,
a settings header and then one line per finished problem with its counts. A problem's traces
are appended and fsync'd as soon as its samples are graded, then its progress line, so a run
killed at any moment resumes with the problems not done: traces of a problem without a
progress line are dropped, and each problem's samples come from random streams keyed by its
index, so the resumed run draws what an uninterrupted one draws. When every problem is done
the traces file is put in problem order, so the finished file is the same however often the
run was interrupted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from torch import nn
from tqdm.auto import tqdm

from reasoning.data import Problem
from reasoning.evaluation.records import RecordsError, RecordWriter, read_run, resume_records, write_records
from reasoning.generation.api import GenerationResult, Prompt, generate_as_completed
from reasoning.generation.options import GenerationConfig
from reasoning.prompts import PromptKind, build_prompt, task_prompt
from reasoning.rl.rewards import correctness_reward
from reasoning.sft.data import PROMPTS
from reasoning.sft.traces import Trace, dedup_key, split_completion
from reasoning.tokenizer import Qwen3Tokenizer
from reasoning.vocab import control_token_in

# Qwen3's recommended sampling in thinking mode (model card): T 0.6, top-p 0.95.
DISTILL_CONFIG = GenerationConfig(max_new_tokens=4096, temperature=0.6, top_p=0.95, n=4, seed=0)
# The generation settings a resume must share with the run it continues.
SETTINGS = ("n", "temperature", "top_p", "top_k", "min_p", "max_new_tokens", "seed")
COUNTS = ("samples", "correct", "unfinished", "kept", "duplicates")
FINISHED = ("eos", "stop")  # not "length": a trace cut off by the budget is not a solution

Grade = Callable[[Problem, str], bool]  # (problem, the answer after </think>) -> correct?


def math_grade(problem: Problem, answer: str) -> bool:
    """The answer's last \\boxed{...} equals the gold answer (the grader decides, time-bounded)."""
    return correctness_reward(answer, problem) == 1.0


def prompt_kind(tokenizer: Qwen3Tokenizer) -> PromptKind:
    """The teacher's prompt format: the plain prompt for a base model, else its chat template."""
    return "base" if tokenizer.base else "reasoning"


def progress_path(out: str | Path) -> Path:
    """The progress file that goes with a traces file."""
    out = Path(out)
    return out.with_name(out.name + ".progress.jsonl")


def generate_traces(
    model: nn.Module,
    tokenizer: Qwen3Tokenizer,
    problems: Sequence[Problem],
    out: str | Path,
    *,
    teacher: str,
    config: GenerationConfig = DISTILL_CONFIG,
    grade: Grade = math_grade,
    settings: dict[str, Any] | None = None,
    resume: bool = False,
    graders: int | None = None,
    progress: bool = True,
    prompt: str = "math",
) -> dict[str, Any]:
    """Sample `config.n` solutions per problem with thinking on, keep the correct finished ones
    as traces in `out`; returns the run's counts by name (see `summarize`).

    `prompt`: the teacher reads the project's boxed-answer math prompt ("math") or the problem
    as written ("plain"), as its user turn or (a base teacher) as the whole prompt.

    `settings` (e.g. the data source) join the teacher, prompt kind and sampling settings in the
    progress header; a resume under other settings, or a new run over results, is refused.
    """
    if not problems:
        raise ValueError("nothing to distill: no problems (an empty dataset, or --limit 0)")
    if config.seed is None:
        raise ValueError("generate_traces needs a seed, so that a resumed run draws the samples an uninterrupted one does")
    for problem in problems:
        if token := control_token_in(problem.question):
            raise ValueError(f"problem {problem.id!r} holds the control token {token}: its trace could not be trained on")
    index_of = {problem.id: index for index, problem in enumerate(problems)}
    if len(index_of) != len(problems):
        raise ValueError("problem ids must be unique: the progress file tells the problems done by id")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    kind = prompt_kind(tokenizer)
    if prompt not in PROMPTS:
        raise ValueError(f"prompt must be one of {', '.join(PROMPTS)}, got {prompt!r}")
    header = {"teacher": teacher, "kind": kind, **({"prompt": prompt} if prompt != "math" else {}), **{name: getattr(config, name) for name in SETTINGS}, **(settings or {})}
    header = json.loads(json.dumps(header))  # as it reads back
    records = _resume(out, header) if resume else _start(out, header)
    done = {record["id"] for record in records}
    todo = [index for index, problem in enumerate(problems) if problem.id not in done]
    chat = tokenizer.apply_chat_template
    if prompt == "math":
        texts = [build_prompt(problems[i].question, kind=kind, chat=chat) for i in todo]
    else:
        texts = [task_prompt(problems[i].question, kind=kind, enable_thinking=True, chat=chat) for i in todo]
    prompts = [Prompt(text, stream=i) for text, i in zip(texts, todo)]

    bar = tqdm(total=len(todo), disable=not progress, desc="distill", unit="problem")
    pending: set[Future] = set()
    kept_so_far = sum(record["kept"] for record in records)

    def write_finished(wait: bool) -> None:
        nonlocal kept_so_far
        for future in [f for f in pending if wait or f.done()]:
            pending.discard(future)
            record, kept = future.result()
            for trace in kept:
                traces_out.write(trace.to_record())
            progress_out.write(record)  # after its traces: a problem marked done has all of them
            records.append(record)
            kept_so_far += record["kept"]
            bar.update()
            bar.set_postfix(kept=kept_so_far)

    with RecordWriter(out) as traces_out, RecordWriter(progress_path(out)) as progress_out, ThreadPoolExecutor(
        graders or os.cpu_count() or 2
    ) as pool:
        try:
            for results in generate_as_completed(model, tokenizer, prompts, config):
                i = todo[results[0].prompt_index]
                pending.add(pool.submit(distill_problem, problems[i], i, results, grade, teacher))
                write_finished(wait=False)
        finally:  # an interrupted run still keeps every problem already graded
            write_finished(wait=True)
    bar.close()
    _in_problem_order(out, {record["id"]: record["index"] for record in records})
    return summarize(records)


def distill_problem(
    problem: Problem, index: int, results: Sequence[GenerationResult], grade: Grade, teacher: str
) -> tuple[dict[str, Any], list[Trace]]:
    """A problem's progress record and the traces it keeps: finished, split, correct, unique."""
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
        if not answer or not grade(problem, answer):
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
    return {"id": problem.id, "index": index, **counts}, kept


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
        if path.is_file() and path.stat().st_size > 0:
            raise RecordsError(f"{path} already holds results: pass --resume to continue that run, or choose another --out")


def grade_traces(traces: Sequence[Trace], grade: Grade = math_grade, *, graders: int | None = None) -> list[bool]:
    """Whether each trace's answer is right against its gold (imported traces: keep the correct)."""
    missing = next((trace for trace in traces if trace.gold is None), None)
    if missing is not None:
        raise ValueError(f"trace {missing.id!r} has no gold answer to grade against")
    problems = [Problem(trace.problem_id or trace.id, trace.problem, trace.gold) for trace in traces]
    with ThreadPoolExecutor(graders or os.cpu_count() or 2) as pool:
        return list(pool.map(grade, problems, [trace.answer for trace in traces]))


def _start(out: Path, header: dict[str, Any]) -> list[dict[str, Any]]:
    """A fresh run: refuse files holding results, then start both files empty but for the header."""
    refuse_existing(out)
    write_records(progress_path(out), [], header)
    write_records(out, [], None)
    return []


def _resume(out: Path, header: dict[str, Any]) -> list[dict[str, Any]]:
    """The progress records of the run in `out`, its settings checked; traces of problems
    without a progress line (written just before a kill) are dropped, to be made again."""
    progress = progress_path(out)
    if not (progress.is_file() and progress.stat().st_size > 0):
        if out.is_file() and out.stat().st_size > 0:
            raise RecordsError(f"cannot resume {out}: {progress} is missing, so the problems done are unknown")
        return _start(out, header)
    records = resume_records(progress, header)
    done = {record["id"] for record in records}
    traces = read_run(out, repair=True)[1] if out.is_file() else []
    finished = [trace for trace in traces if trace.get("problem_id") in done]
    if len(finished) < len(traces) or not out.is_file():
        write_records(out, finished, None)
    return records


def _in_problem_order(out: Path, index_of: dict[str, int]) -> None:
    """Rewrite the traces file sorted by problem, then sample (they were appended as finished)."""
    _, traces = read_run(out)
    ordered = sorted(traces, key=lambda trace: (index_of[trace["problem_id"]], trace["meta"]["sample"]))
    if ordered != traces:
        write_records(out, ordered, None)
