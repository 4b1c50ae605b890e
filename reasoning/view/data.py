"""The data a run's page is built from: per task its summary, per problem a row with the flags
the page filters on, and the problem's samples split at </think>, their text capped so a large
run's page stays a few MB."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reasoning.evaluation.after_thinking import THINK_END, THINK_START, thinking_state
from reasoning.evaluation.compare import RunResults, pair
from reasoning.evaluation.rundir import read_results
from reasoning.evaluation.summary import problem_pass_rate, summarize
from reasoning.generation.thinking import DEFAULT_CLOSING

TEXT_BUDGET = 6_000_000  # characters of sample text in one page, shared out over its samples
TEXT_CAP_RANGE = (400, 20_000)  # a sample's text is never cut below or kept above these
HISTOGRAM_BINS = 20  # bins of the response-length histogram

FILTERS: dict[str, Callable[[dict[str, Any]], bool]] = {  # a problem row -> whether the filter keeps it
    "wrong": lambda row: row["right"] < 1,  # at least one sample wrong
    "truncated": lambda row: row["truncated"] > 0,
    "unfinished": lambda row: row["unfinished"] > 0,
    "disagreement": lambda row: len(row["votes"]) > 1,
}


def view_data(paths: Sequence[str | Path]) -> dict[str, Any]:
    """The page's data for one or more runs (run directories, budget sweeps or records files);
    with several runs, each problem row carries its fraction right in every run (`across`)."""
    results = [read_results(path) for path in paths]
    samples = sum(len(record["samples"]) for run in results for _, records in run.values() for record in records)
    cap = text_cap(samples)
    runs = [
        {"name": str(path), "tasks": [task_data(task, settings, records, cap) for task, (settings, records) in run.items()]}
        for path, run in zip(paths, results, strict=True)
    ]
    for run in runs:
        run["budgets"] = budget_curves(run["tasks"])
    for task in runs[0]["tasks"]:
        others = [{t["task"]: {row["id"]: row["right"] for row in t["problems"]} for t in run["tasks"]} for run in runs]
        for row in task["problems"]:
            row["across"] = [other.get(task["task"], {}).get(row["id"]) for other in others]
    read = [RunResults(str(path), run) for path, run in zip(paths, results, strict=True)]
    return {"runs": runs, "paired": paired_differences(read), "text_cap": cap, "filters": list(FILTERS)}


def paired_differences(runs: Sequence[RunResults]) -> list[dict[str, Any]]:
    """Each later run minus the first on every task both hold, problem by problem (`compare.pair`):
    the two accuracies, the difference with its paired standard error and 95% interval."""
    rows = []
    for other in runs[1:]:
        for task in [name for name in runs[0].tasks if name in other.tasks]:
            paired = pair(other, runs[0], task)
            d = paired.difference
            rows.append({"task": task, "run": other.name, "base": runs[0].name, "accuracy": paired.first, "base_accuracy": paired.second,
                         "difference": d.mean, "stderr": d.stderr, "low": d.low, "high": d.high, "problems": d.problems})  # fmt: skip
    return rows


def text_cap(samples: int) -> int:
    """The characters kept of each sample's thinking and of its answer, so the page's text stays within TEXT_BUDGET."""
    low, high = TEXT_CAP_RANGE
    return max(low, min(high, TEXT_BUDGET // max(1, 2 * samples)))


def task_data(task: str, settings: dict[str, Any], records: Sequence[dict[str, Any]], cap: int) -> dict[str, Any]:
    """One task: its summary's headline figures and its problems' rows."""
    if not records:
        raise ValueError(f"task {task} has no records to show")
    summary = summarize(records)
    return {"task": task, "settings": settings, "summary": headline(summary),
            "by_subject": breakdown(summary, "subject"), "by_level": breakdown(summary, "level"),
            "lengths": length_histogram(records),
            "problems": [problem_row(record, cap, settings.get("thinking_closing") or DEFAULT_CLOSING) for record in records]}  # fmt: skip


def breakdown(summary: dict[str, Any], field: str) -> list[dict[str, Any]]:
    """The summary's by-subject or by-level figures as rows: name, problems, pass@1 ± stderr (none where records lack the field)."""
    return [{"name": name, "problems": figures["problems"], "pass@1": figures["pass@1"], "pass@1_stderr": figures["pass@1_stderr"]}
            for name, figures in summary.get(f"by_{field}", {}).items()]  # fmt: skip


def length_histogram(records: Sequence[dict[str, Any]], bins: int = HISTOGRAM_BINS) -> dict[str, list[int]]:
    """Response lengths (sample tokens) of correct and of wrong samples counted in `bins` equal bins
    from 0 to the longest: `edges` has bins + 1 bounds, `correct` and `wrong` a count per bin."""
    samples = [sample for record in records for sample in record["samples"]]
    width = max(1, -(-max(sample.get("tokens", 0) for sample in samples) // bins))  # ceiling: the longest falls in the last bin
    counts = {"correct": [0] * bins, "wrong": [0] * bins}
    for sample in samples:
        counts["correct" if sample["correct"] else "wrong"][min(bins - 1, sample.get("tokens", 0) // width)] += 1
    return {"edges": [i * width for i in range(bins + 1)], **counts}


def budget_curves(tasks: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """A budget sweep's accuracy against budget: {benchmark: [{budget, pass@1, pass@1_stderr}, ...] by budget}
    for the tasks named <benchmark>@<budget> (empty where there are none)."""
    curves: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        bench, at, budget = task["task"].rpartition("@")
        if at and bench and budget.isdigit():
            summary = task["summary"]
            point = {"budget": int(budget), "pass@1": summary["pass@1"], "pass@1_stderr": summary["pass@1_stderr"]}
            curves.setdefault(bench, []).append(point)
    return {bench: sorted(points, key=lambda point: point["budget"]) for bench, points in curves.items()}


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The overview's figures: pass@1 ± stderr, pass@k and maj@k at the largest k, tokens, truncation."""
    ks = [int(name[5:]) for name in summary if name.startswith("pass@") and not name.endswith("stderr") and name != "pass@1"]
    k = max(ks, default=None)
    return {
        "problems": summary["problems"], "samples": summary["samples"],
        "pass@1": summary["pass@1"], "pass@1_stderr": summary["pass@1_stderr"], "k": k,
        "pass@k": summary.get(f"pass@{k}"), "maj@k": summary.get(f"maj@{k}"),
        "mean_tokens": summary["mean_tokens"], "truncated": summary["truncated"], "unfinished": summary["unfinished"],
    }  # fmt: skip


def problem_row(record: dict[str, Any], cap: int, closing: str = DEFAULT_CLOSING) -> dict[str, Any]:
    """A problem's row (what the table shows and filters on) with its samples and vote groups;
    `closing` is the text the run forced at a thinking budget (the settings' thinking_closing)."""
    prompt = record.get("prompt", "")
    samples = [sample_view(prompt, sample, group, cap, closing) for sample, group in zip(record["samples"], record["groups"], strict=True)]
    votes = vote_groups(record)
    row = {
        "id": str(record["id"]), "subject": record.get("subject"), "level": record.get("level"),
        "question": capped(str(record.get("question") or ""), cap), "gold": _text(record.get("gold")),
        "right": problem_pass_rate(record), "majority": votes[0]["answer"] if votes else None,
        "truncated": sum(s["finish_reason"] == "length" for s in samples),
        "unfinished": sum(s["thinking_state"] == "unfinished" for s in samples),
        "votes": votes, "samples": samples,
    }  # fmt: skip
    row["flags"] = [name for name, keeps in FILTERS.items() if keeps(row)]
    return row


def vote_groups(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer groups of a problem's samples, most votes first: the answer (the group's first
    sample's), its count, whether it is correct, and its samples."""
    groups: dict[int, list[int]] = {}
    for sample, group in enumerate(record["groups"]):
        if group is not None:
            groups.setdefault(group, []).append(sample)
    ordered = sorted(groups.values(), key=lambda members: (-len(members), members[0]))
    samples = record["samples"]
    return [{"answer": _text(samples[m[0]]["extracted"]), "count": len(m), "correct": bool(samples[m[0]]["correct"]), "samples": m}
            for m in ordered]  # fmt: skip


def sample_view(prompt: str, sample: dict[str, Any], group: int | None, cap: int, closing: str = DEFAULT_CLOSING) -> dict[str, Any]:
    """A sample as the page shows it: thinking and answer (split at the last </think>), each capped;
    where the extracted answer was read in the answer ([start, end) of its last occurrence) and
    where the forced closing text ends the thinking (a thinking budget cut it short), or None."""
    text = sample["text"]
    state = thinking_state(prompt, text)
    if state == "closed":
        thinking, answer = text.rsplit(THINK_END, 1)
        thinking = thinking.lstrip().removeprefix(THINK_START)
    else:
        thinking, answer = (text.lstrip().removeprefix(THINK_START), "") if state == "unfinished" else ("", text)
    grade = sample.get("grade") or {}
    thinking, answer, extracted = capped(thinking, cap), capped(answer, cap), _text(sample.get("extracted"))
    return {
        "thinking": thinking, "answer": answer, "thinking_state": state,
        "answer_mark": last_span(answer, extracted), "forced": forced_span(thinking, closing) if state == "closed" else None,
        "extracted": extracted, "correct": bool(sample["correct"]),
        "grade": f"{grade.get('method', '')}: {grade.get('reason', '')}".strip(": "),
        "tokens": sample.get("tokens", 0), "finish_reason": sample.get("finish_reason", "unknown"), "group": group,
    }  # fmt: skip


def last_span(text: str, part: str | None) -> list[int] | None:
    """[start, end) of the last occurrence of `part` in `text` (an answer is read from its end), or None."""
    start = text.rfind(part) if part else -1
    return None if start < 0 else [start, start + len(part)]


def forced_span(thinking: str, closing: str) -> list[int] | None:
    """[start, end) of the closing text's part before </think> where it ends the thinking: the words
    the engine forced at the thinking budget, not the model's; None where the thinking ends otherwise."""
    forced = closing.split(THINK_END, 1)[0].strip()
    end = len(thinking.rstrip())
    if not forced or not thinking[:end].endswith(forced):
        return None
    return [end - len(forced), end]


def capped(text: str, cap: int) -> str:
    """The text, its middle cut (with a note of how much) where it runs over `cap` characters."""
    if len(text) <= cap:
        return text
    head, tail = text[: cap // 2], text[len(text) - cap // 2 :]
    return f"{head}\n[... {len(text) - 2 * (cap // 2)} characters cut ...]\n{tail}"


def filtered(rows: Sequence[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The rows a filter keeps (FILTERS names them)."""
    return [row for row in rows if FILTERS[name](row)]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
