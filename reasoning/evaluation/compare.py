"""Runs side by side: a table per task, paired differences for two runs, a results table to
publish, and a bar chart.

Any number of runs (run directories or records files) compare in one table: per task and run,
the method (strategy and decoding), problems, accuracy ± its standard error, pass@1, tokens
per problem and time. Two runs are also compared problem by problem: the paired difference of
accuracy with its 95% intervals, over the problems both hold (the rest are counted, not
hidden), under the settings that differ (listed). As markdown or CSV, the runs make one
results table: a row per run (its model and method), a column per benchmark.
"""

from __future__ import annotations

from collections.abc import Sequence
import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reasoning.evaluation.metrics import PairedDifference, paired_difference
from reasoning.evaluation.rundir import read_results
from reasoning.evaluation.strategies import method_label
from reasoning.evaluation.summary import format_duration, problem_score, summarize

# Settings that say how a run was made, not what it measured: not reported as differences.
_NOT_COMPARED = ("task", "task_kind", "template")

# How `eval compare` can print: the text tables (and paired differences), or the results table.
FORMATS = ("text", "md", "csv")


@dataclass(frozen=True)
class RunResults:
    """One run read back: its name (the path given) and {task: (settings, records)}."""

    name: str
    tasks: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]


@dataclass(frozen=True)
class Paired:
    """Two runs on one task: each one's accuracy, their paired difference, and the problems only one holds."""

    first: float
    second: float
    difference: PairedDifference
    only_first: int
    only_second: int
    settings: dict[str, tuple[Any, Any]]  # the settings that differ: name -> (first's, second's)


def read_runs(paths: Sequence[str | Path]) -> list[RunResults]:
    """Each path's results; a run without records is refused."""
    runs = []
    for path in paths:
        results = read_results(path)
        empty = next((task for task, (_, records) in results.items() if not records), None)
        if empty is not None:
            raise ValueError(f"nothing to compare: {path} holds no records of {empty}")
        runs.append(RunResults(str(path), results))
    return runs


def pair(first: RunResults, second: RunResults, task: str, *, seed: int = 0) -> Paired:
    """`first` minus `second` on `task`, problem by problem (matched by id)."""
    (a_settings, a), (b_settings, b) = first.tasks[task], second.tasks[task]
    theirs = {record["id"]: record for record in b}
    common = [record for record in a if record["id"] in theirs]
    if not common:
        raise ValueError(f"{first.name} and {second.name} share no problem of {task}: nothing to compare")
    difference = paired_difference(
        [problem_score(record) for record in common], [problem_score(theirs[record["id"]]) for record in common], seed=seed
    )
    differ = {
        key: (a_settings.get(key), b_settings.get(key))
        for key in sorted(a_settings.keys() | b_settings.keys())
        if key not in _NOT_COMPARED and a_settings.get(key) != b_settings.get(key)
    }  # fmt: skip
    accuracy = lambda records: sum(map(problem_score, records)) / len(records)  # noqa: E731
    return Paired(accuracy(a), accuracy(b), difference, len(a) - len(common), len(b) - len(common), differ)


def format_runs(runs: Sequence[RunResults]) -> str:
    """One row per task and run: run, method, problems, accuracy ± stderr, pass@1, tokens per problem, time."""
    names = {run.name: _letter(k) for k, run in enumerate(runs)}
    lines = [f"{names[run.name]} = {run.name}" for run in runs] + [""]
    width = max([len("method")] + [len(method_label(s)) for run in runs for s, _ in run.tasks.values()])
    lines.append(f"{'task':<14} {'run':>3}  {'method':<{width}} {'problems':>8} {'accuracy':>14} {'pass@1':>8} {'tokens/problem':>14} {'time':>9}")
    for task in _tasks(runs):
        for run in runs:
            if task in run.tasks:
                settings, records = run.tasks[task]
                s = summarize(records)
                lines.append(
                    f"{task:<14} {names[run.name]:>3}  {method_label(settings):<{width}} {s['problems']:>8} "
                    f"{s['accuracy']:>7.1%} ± {100 * s['accuracy_stderr']:>4.1f} {s['pass@1']:>8.1%} "
                    f"{s['tokens_per_problem']:>14.0f} {format_duration(s['seconds']):>9}"
                )
    lines.append("\naccuracy: the strategy's answer (each sample's, averaged, for independent samples), ± its standard error")
    return "\n".join(lines)


def format_pairs(first: RunResults, second: RunResults, pairs: dict[str, Paired]) -> str:
    """Per task: each run's accuracy, the paired difference, its intervals, and whether it is real."""
    lines = [
        f"paired differences, A - B, over the problems both hold (A = {first.name}, B = {second.name})",
        f"{'task':<14} {'problems':>8} {'A':>7} {'B':>7} {'A - B':>8} {'± stderr':>9} {'95% CI (bootstrap)':>20} {'real?':>6}",
    ]
    for task, p in pairs.items():
        d = p.difference
        interval = f"[{100 * d.boot_low:+.1f}, {100 * d.boot_high:+.1f}]"
        lines.append(
            f"{task:<14} {d.problems:>8} {p.first:>7.1%} {p.second:>7.1%} {100 * d.mean:>+8.1f} {100 * d.stderr:>9.1f} "
            f"{interval:>20} {'yes' if d.significant else 'no':>6}"
        )
    for task, p in pairs.items():
        if p.only_first or p.only_second:
            lines.append(f"{task}: left out {p.only_first} problems only A holds and {p.only_second} only B holds")
        if p.settings:
            differ = ", ".join(f"{key} ({a!r} vs {b!r})" for key, (a, b) in p.settings.items())
            lines.append(f"{task}: settings differ: {differ}")
    lines.append("differences in points of accuracy; real: the bootstrap interval excludes zero")
    return "\n".join(lines)


def results_rows(runs: Sequence[RunResults]) -> list[tuple[str, str, str, dict[str, dict[str, Any]]]]:
    """The results table's rows: (run, model, method, {benchmark: summary}), one per run and
    method (a run whose tasks ran under different methods gives a row for each)."""
    rows: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
    for run in runs:
        for task, (settings, records) in run.tasks.items():
            key = (run.name, _model_name(settings, run.name), method_label(settings))
            rows.setdefault(key, {})[task] = summarize(records)
    return [(*key, summaries) for key, summaries in rows.items()]


def format_results(runs: Sequence[RunResults], fmt: str) -> str:
    """The runs as one results table, in markdown ("md") or CSV ("csv"): a row per run and
    method, a column per benchmark holding accuracy ± its standard error over problems, in
    percent (for independent samples accuracy is pass@1); a blank where a run lacks the benchmark."""
    if fmt not in ("md", "csv"):
        raise ValueError(f"unknown results format {fmt!r}; choose md or csv")
    tasks, rows = _tasks(runs), results_rows(runs)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["run", "model", "method"] + [f"{task}{suffix}" for task in tasks for suffix in ("", "_stderr")])
        for run, model, method, summaries in rows:
            cells = [_csv_percent(summaries.get(task), name) for task in tasks for name in ("accuracy", "accuracy_stderr")]
            writer.writerow([run, model, method, *cells])
        return out.getvalue().rstrip("\n")
    lines = ["| " + " | ".join(["run", "model", "method", *tasks]) + " |", "| " + " | ".join(["---"] * 3 + ["---:"] * len(tasks)) + " |"]
    for run, model, method, summaries in rows:
        cells = [_md_cell(summaries[task]) if task in summaries else "" for task in tasks]
        lines.append("| " + " | ".join([_md_escape(run), _md_escape(model), _md_escape(method), *cells]) + " |")
    lines += ["", "accuracy (%) ± its standard error over problems; for independent samples, pass@1"]
    return "\n".join(lines)


def _model_name(settings: dict[str, Any], run: str) -> str:
    """A run's model as a table names it: a hub id as it is, a checkpoint directory by its name;
    records without a model (written by code) by their run's name."""
    model = settings.get("model")
    if model is None:
        return Path(run).name
    return Path(model).name if Path(model).is_absolute() else str(model)


def _md_cell(summary: dict[str, Any]) -> str:
    return f"{100 * summary['accuracy']:.1f} ± {100 * summary['accuracy_stderr']:.1f}"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _csv_percent(summary: dict[str, Any] | None, name: str) -> str:
    return "" if summary is None else f"{100 * summary[name]:.2f}"


def comparison(paths: Sequence[str | Path], plot: str | Path | None = None, fmt: str = "text") -> str:
    """What `eval compare` prints: the runs' table and, for two runs, their paired differences
    on the tasks both hold; with `fmt` "md" or "csv", the results table instead. The accuracies
    are also drawn to `plot` when given."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    runs = read_runs(paths)
    if fmt != "text":
        if plot is not None:
            plot_runs(runs, plot)
        return format_results(runs, fmt)
    text = format_runs(runs)
    if len(runs) == 2:
        shared = [task for task in _tasks(runs) if all(task in run.tasks for run in runs)]
        if shared:
            text += "\n\n" + format_pairs(*runs, {task: pair(*runs, task) for task in shared})
    if plot is not None:
        plot_runs(runs, plot)
    return text


def plot_runs(runs: Sequence[RunResults], out: str | Path) -> None:
    """Accuracy per task with 95% error bars (1.96 standard errors) and tokens per problem, one bar per run."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("plotting needs matplotlib: pip install 'reasoning[plot]'") from error
    tasks = _tasks(runs)
    width = 0.8 / len(runs)
    figure, (left, right) = plt.subplots(1, 2, figsize=(max(9.0, 2.2 * len(tasks) * len(runs) + 3), 4.5))
    for offset, run in enumerate(runs):
        present = [task for task in tasks if task in run.tasks]
        xs = [tasks.index(task) + (offset - (len(runs) - 1) / 2) * width for task in present]
        summaries = [summarize(run.tasks[task][1]) for task in present]
        label = f"{_letter(offset)}: {Path(run.name).name} ({method_label(run.tasks[present[0]][0])})"
        left.bar(xs, [100 * s["accuracy"] for s in summaries], width, yerr=[196 * s["accuracy_stderr"] for s in summaries], capsize=3, label=label)
        right.bar(xs, [s["tokens_per_problem"] for s in summaries], width, label=label)
    for axes, title in ((left, "accuracy (%), 95% error bars"), (right, "tokens generated per problem")):
        axes.set_xticks(range(len(tasks)), tasks)
        axes.set_ylabel(title)
    left.legend(fontsize="small")
    figure.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=120)
    plt.close(figure)


def _tasks(runs: Sequence[RunResults]) -> list[str]:
    return list(dict.fromkeys(task for run in runs for task in run.tasks))


def _letter(index: int) -> str:
    """A, B, ..., Z, then A1, B1, ..."""
    return chr(ord("A") + index % 26) + (str(index // 26) if index >= 26 else "")
