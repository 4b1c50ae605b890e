"""Training metrics: one row per step appended to metrics.csv and metrics.jsonl, and their plot.

Each trainer names its own columns (`reasoning.rl.metrics.COLUMNS`, `reasoning.sft.trainer.COLUMNS`)
and writes its rows through the same log. Rows are flushed as each step ends, so a killed run
keeps every finished step; on resume both files are cut back to the checkpoint's step, so rows
never repeat and the files read as if the run had never stopped.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

# The curves `plot_metrics` draws by default, in this order, where a run logged them (GRPO's or SFT's).
CURVES = (
    "reward_mean", "accuracy", "response_length", "kl", "clip_fraction", "entropy", "loss", "eval_loss", "eval_accuracy",
    "lr", "grad_norm", "tokens_per_s",
)  # fmt: skip


METRICS_FILE = (
    "pass the metrics.csv a `reasoning train grpo` or `reasoning train sft` run writes to its --out "
    "(a step column, then one number per metric: loss, reward_mean, eval_accuracy, ...)"
)


class MetricsLog:
    """metrics.csv + metrics.jsonl in `out_dir` (and samples.jsonl of completions), with `columns`."""

    def __init__(self, out_dir: Path, columns: tuple[str, ...], *, resume_step: int | None = None) -> None:
        self.csv, self.jsonl, self.samples = out_dir / "metrics.csv", out_dir / "metrics.jsonl", out_dir / "samples.jsonl"
        self.columns = columns
        out_dir.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            for path in (self.jsonl, self.samples):
                path.write_text("")
            self.csv.write_text(",".join(columns) + "\n")
        else:
            self._truncate(resume_step)

    def append(self, row: dict[str, Any], samples: list[dict[str, Any]] = ()) -> None:
        """Add one step's row (and its samples), flushed to disk at once."""
        unknown = set(row) - set(self.columns)
        if unknown:
            raise ValueError(f"unknown metric columns {sorted(unknown)}")
        with self.csv.open("a", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerow([_cell(row.get(column)) for column in self.columns])
        with self.jsonl.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        if samples:
            with self.samples.open("a") as handle:
                handle.writelines(json.dumps(sample) + "\n" for sample in samples)

    def _truncate(self, step: int) -> None:
        """Keep the rows of steps <= step in all three files."""
        rows = [row for row in read_metrics(self.csv) if int(row["step"]) <= step] if self.csv.is_file() else []
        with self.csv.open("w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(self.columns)
            writer.writerows([[_cell(row.get(column)) for column in self.columns] for row in rows])
        for path in (self.jsonl, self.samples):
            lines = path.read_text().splitlines() if path.is_file() else []
            kept = [line for line in lines if _complete_step(line) is not None and _complete_step(line) <= step]
            path.write_text("".join(line + "\n" for line in kept))


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a metrics.csv, numbers as floats (empty cells as None); a file that is not
    one (no step column, a cell that is not a number) is a ValueError saying what it should be."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"metrics file {path} not found")
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if "step" not in (reader.fieldnames or ()):
                raise ValueError("it has no step column")
            return [_numbers(row, line) for line, row in enumerate(reader, start=2)]
    except (ValueError, TypeError) as error:  # UnicodeDecodeError too: a binary file
        raise ValueError(f"{path} is not a training run's metrics ({error}): {METRICS_FILE}") from None


def _numbers(row: dict[str, Any], line: int) -> dict[str, Any]:
    """One CSV row with its cells as floats (empty ones as None)."""
    try:
        return {key: (float(value) if value not in ("", None) else None) for key, value in row.items()}
    except (ValueError, TypeError):
        raise ValueError(f"line {line} holds a cell that is not a number") from None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _complete_step(line: str) -> int | None:
    """The step of one JSONL line, or None for a torn line."""
    try:
        return int(json.loads(line)["step"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def plot_metrics(csv_path: str | Path, out: str | Path, *, window: int = 10, columns: tuple[str, ...] = CURVES) -> Path:
    """Draw each of `columns` a run logged against the step and save to `out`: a per-step curve
    raw (faint) with its moving average, a periodic evaluation's points as they are (`curve`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(csv_path)
    if not rows:
        raise ValueError(f"{csv_path} has no rows to plot")
    shown = [c for c in columns if any(row.get(c) is not None for row in rows)]
    if not shown:
        raise ValueError(f"{csv_path} holds none of the curves plot draws ({', '.join(columns)}): {METRICS_FILE}")
    figure, axes = plt.subplots((len(shown) + 1) // 2, 2, figsize=(11, 2.6 * ((len(shown) + 1) // 2)), squeeze=False)
    for axis, column in zip(axes.flat, shown):
        steps, values, smoothed = curve(rows, column, window)
        if smoothed is None:
            axis.plot(steps, values, color="tab:blue", marker="o")
        else:
            axis.plot(steps, values, alpha=0.3, color="tab:blue")
            axis.plot(steps, smoothed, color="tab:blue")
        axis.set_title(column)
        axis.set_xlabel("step")
    for axis in list(axes.flat)[len(shown) :]:
        axis.remove()
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return Path(out)


def curve(rows: list[dict[str, Any]], column: str, window: int) -> tuple[list[float], list[float], list[float] | None]:
    """What the plot draws of `column`: its steps, values, and their moving average where it was
    logged at every step (None for one logged now and then, a periodic evaluation: averaged
    over a window of evaluations far apart, a point would lag far behind the model's state)."""
    points = [(row["step"], row[column]) for row in rows if row.get(column) is not None]
    steps, values = [step for step, _ in points], [value for _, value in points]
    return steps, values, moving_average(values, window) if len(points) == len(rows) else None


def moving_average(values: list[float] | tuple[float, ...], window: int) -> list[float]:
    """Mean of each value and up to window - 1 before it (a trailing average, same length)."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    out, total = [], 0.0
    for index, value in enumerate(values):
        total += value
        if index >= window:
            total -= values[index - window]
        out.append(total / min(index + 1, window))
    return out
