"""Benchmarks under a sampling protocol: n samples per problem, graded as they finish, one
record per problem, resumable, and summarised by name.

Layout of a run directory: `<bench>.jsonl` (a settings header, then one line per problem
holding all its samples), or `<bench>.rank<R>.jsonl` per rank under torchrun, and
`summary.json` with every benchmark's figures. A problem's record is written and fsync'd as
soon as its n samples are graded; grading runs on a thread pool (each grade in the grader's
bounded worker process) while the engine keeps decoding, so a slow grade never stalls the batch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from reasoning.data import Problem
from reasoning.evaluation.benchmarks import Benchmark, grade_completion
from reasoning.evaluation.records import RecordsError, RecordWriter, read_run, resume_records
from reasoning.evaluation.summary import problem_pass_rate, summarize_benchmark
from reasoning.grading.groups import AnswerGroups, grader_equivalent

SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class Sample:
    """One completion of a problem, as generation produced it."""

    text: str
    tokens: int
    finish_reason: str
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the letters' log-probs under loglik scoring


# Receives (stream index, prompt) pairs; yields (position in that list, the problem's samples,
# seconds spent) as each problem's samples finish, in any order.
Generate = Callable[[Sequence[tuple[int, str]]], Iterator[tuple[int, list[Sample], float]]]


@dataclass(frozen=True)
class Share:
    """The problems this process evaluates: those at positions rank, rank + world, ... (under
    torchrun, its rank among `world` processes)."""

    rank: int = 0
    world: int = 1


def records_path(out_dir: str | Path, bench: str, share: Share = Share()) -> Path:
    """The file this process writes a benchmark's records to."""
    name = f"{bench}.jsonl" if share.world == 1 else f"{bench}.rank{share.rank}.jsonl"
    return Path(out_dir) / name


def run_benchmark(
    benchmark: Benchmark,
    problems: Sequence[Problem],
    prompts: Sequence[str],
    generate: Generate,
    out_dir: str | Path,
    *,
    settings: dict[str, Any],
    resume: bool = False,
    share: Share = Share(),
    grade_timeout: float = 2.0,
    graders: int | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Evaluate this share of `problems`, appending one record per problem; returns them.

    The random stream of problem i's samples is keyed by i (its place in the benchmark), so a
    resumed run, or one split over ranks, draws the samples an uninterrupted run draws.
    """
    if not problems:
        raise ValueError(f"nothing to evaluate: {benchmark.name} has no problems (an empty file, or --limit 0)")
    if len(problems) != len(prompts):
        raise ValueError(f"{len(problems)} problems but {len(prompts)} prompts")
    out = records_path(out_dir, benchmark.name, share)
    settings = json.loads(json.dumps({"benchmark": benchmark.name, **settings}))  # as it reads back
    started = out.is_file() and out.stat().st_size > 0
    if started and not resume:
        raise RecordsError(f"{out} already holds results: pass --resume to continue that run, or choose another --out")
    records = resume_records(out, settings) if started else []
    done = {record["id"] for record in records} | _done_elsewhere(out_dir, benchmark.name, out)
    todo = [i for i in range(share.rank, len(problems), share.world) if problems[i].id not in done]

    bar = tqdm(total=len(todo), disable=not progress, desc=benchmark.name, unit="problem")
    pending: set[Future] = set()
    solved = sum(map(problem_pass_rate, records))

    def write_finished(wait: bool) -> None:
        nonlocal solved
        for future in [f for f in pending if wait or f.done()]:
            pending.discard(future)
            record = future.result()
            writer.write(record)
            records.append(record)
            solved += problem_pass_rate(record)
            bar.update()
            bar.set_postfix(pass1=f"{solved / len(records):.1%}")

    with RecordWriter(out, settings=None if started else settings) as writer, ThreadPoolExecutor(
        graders or os.cpu_count() or 2
    ) as pool:
        try:
            for position, samples, seconds in generate([(i, prompts[i]) for i in todo]):
                i = todo[position]
                pending.add(
                    pool.submit(problem_record, benchmark, problems[i], i, prompts[i], samples, seconds, grade_timeout)
                )
                write_finished(wait=False)
        finally:  # an interrupted run still keeps every problem already generated
            write_finished(wait=True)
    bar.close()
    return sorted(records, key=lambda record: record["index"])


def _done_elsewhere(out_dir: str | Path, bench: str, own: Path) -> set[str]:
    """Problem ids already in this benchmark's other record files (other ranks, or a run with
    another number of ranks), so no problem is evaluated twice."""
    done: set[str] = set()
    for path in benchmark_files(out_dir, bench):
        if path != own:
            done |= {record["id"] for record in read_run(path, live=True)[1]}  # another rank may be writing it
    return done


def problem_record(
    benchmark: Benchmark,
    problem: Problem,
    index: int,
    prompt: str,
    samples: Sequence[Sample],
    seconds: float,
    grade_timeout: float = 2.0,
) -> dict[str, Any]:
    """The record of one problem: the problem's fields, then each sample graded, and the
    samples' answers grouped by the grader's equivalence (for majority votes)."""
    graded = []
    for sample in samples:
        result = grade_completion(benchmark, problem, sample.text, timeout=grade_timeout)
        graded.append({
            "text": sample.text, "extracted": result.extracted, "correct": result.correct,
            "grade": {"method": result.method, "reason": result.reason},
            "tokens": sample.tokens, "finish_reason": sample.finish_reason, **sample.extra,
        })  # fmt: skip
    return {
        "id": problem.id,
        "index": index,
        "question": problem.question,
        "gold": problem.answer,
        "subject": problem.subject,
        "level": problem.level,
        "meta": problem.meta,
        "prompt": prompt,
        "correct": sum(sample["correct"] for sample in graded),
        "groups": answer_groups(benchmark, [sample["extracted"] for sample in graded], grade_timeout),
        "samples": graded,
        "seconds": round(seconds, 3),
    }


def answer_groups(benchmark: Benchmark, answers: Sequence[str | None], grade_timeout: float = 2.0) -> list[int | None]:
    """Each answer's group id, groups numbered as first seen: equal letters for multiple choice;
    for maths, answers the grader accepts against the group's first (as self-consistency
    votes). None: no answer, no vote."""
    same = (lambda a, b: a == b) if benchmark.kind == "choice" else grader_equivalent(grade_timeout)
    groups = AnswerGroups(same)
    for sample, answer in enumerate(answers):
        if answer is not None:
            groups.add(sample, answer)
    ids: list[int | None] = [None] * len(answers)
    for group, members in enumerate(groups.members):
        for sample in members:
            ids[sample] = group
    return ids


def regrade(benchmark: Benchmark, records: Sequence[dict[str, Any]], *, grade_timeout: float = 2.0) -> list[dict[str, Any]]:
    """Grade saved records again (after a grader change): same samples, new verdicts and groups."""
    regraded = []
    for record in records:
        problem = Problem(
            id=record["id"], question=record["question"], answer=record["gold"], subject=record.get("subject"),
            level=record.get("level"), meta=record.get("meta") or {},
        )  # fmt: skip
        samples = [
            Sample(s["text"], s["tokens"], s["finish_reason"], {k: v for k, v in s.items() if k not in _GRADED})
            for s in record["samples"]
        ]
        fresh = problem_record(benchmark, problem, record["index"], record["prompt"], samples, record.get("seconds", 0.0), grade_timeout)
        regraded.append({**record, **fresh})
    return regraded


_GRADED = ("text", "extracted", "correct", "grade", "tokens", "finish_reason")


def benchmark_files(out_dir: str | Path, bench: str) -> list[Path]:
    """A benchmark's record files in a run directory: one, or one per rank."""
    out_dir = Path(out_dir)
    single = out_dir / f"{bench}.jsonl"
    return ([single] if single.is_file() else []) + sorted(out_dir.glob(f"{bench}.rank*.jsonl"))


def read_benchmark(out_dir: str | Path, bench: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The settings and all records of one benchmark in a run directory, merged over ranks."""
    files = benchmark_files(out_dir, bench)
    if not files:
        raise FileNotFoundError(f"{out_dir} holds no records of {bench} ({bench}.jsonl)")
    settings, records, seen = None, [], {}
    for path in files:
        saved, rows = read_run(path, required=("index", "samples", "groups"))
        if saved is None:
            raise RecordsError(f"{path}: no settings header, so its records cannot be trusted to belong to this run")
        if settings is not None and saved != settings:
            raise RecordsError(f"{path}: its settings differ from {files[0].name}'s")
        settings = saved
        for record in rows:
            if record["id"] in seen:
                raise RecordsError(f"{path}: problem {record['id']!r} is also in {seen[record['id']]}")
            seen[record["id"]] = path.name
            records.append(record)
    return settings, sorted(records, key=lambda record: record["index"])


def benchmarks_in(out_dir: str | Path) -> list[str]:
    """The benchmarks a run directory holds records of, by name."""
    names = {path.name.split(".")[0] for path in Path(out_dir).glob("*.jsonl")}
    return sorted(names)


def write_summary(out_dir: str | Path, benches: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Summarise every benchmark of a run directory into out_dir/summary.json (atomically);
    returns {benchmark: summary with its settings}."""
    out_dir = Path(out_dir)
    summaries = {}
    for bench in benches if benches is not None else benchmarks_in(out_dir):
        settings, records = read_benchmark(out_dir, bench)
        if records:
            summaries[bench] = {**summarize_benchmark(records), "settings": settings}
    temporary = out_dir / (SUMMARY_FILE + ".tmp")
    temporary.write_text(json.dumps(summaries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, out_dir / SUMMARY_FILE)
    return summaries
