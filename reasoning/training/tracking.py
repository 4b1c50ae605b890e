"""Experiment tracking: each metrics row, as written to metrics.csv, streamed to TensorBoard or Trackio.

Both are local-first (TensorBoard's event files under the run's directory, Trackio's local
database; either can be synced later) and optional extras: `pip install 'reasoning[tensorboard]'`
or `'reasoning[trackio]'`. The tracker opens on the first row it is given, so under torchrun only
the rank that writes the metrics (rank 0, which alone sees the rows) opens one.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

REPORT_TO = ("none", "tensorboard", "trackio")
TENSORBOARD_DIR = "tensorboard"  # under the run's --out
_PACKAGES = {"tensorboard": "tensorboard", "trackio": "trackio"}


def check_report_to(report_to: str) -> None:
    """Refuse, before any model loads, a tracker that is unknown or whose package is missing, saying how to install it."""
    if report_to not in REPORT_TO:
        raise ValueError(f"report_to must be one of {', '.join(REPORT_TO)}, got {report_to!r}")
    package = _PACKAGES.get(report_to)
    if package is not None and importlib.util.find_spec(package) is None:
        raise ValueError(f"--report-to {report_to} needs the {package} package: pip install 'reasoning[{report_to}]'")


def scalars(row: dict[str, Any]) -> dict[str, float]:
    """The row's finite numbers other than the step (empty metrics, None, are left out)."""
    return {
        name: float(value) for name, value in row.items()
        if name != "step" and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    }  # fmt: skip


class RowStream:
    """Streams metrics rows to the tracker `report_to` ("none": nowhere); call it with each row, then close()."""

    def __init__(self, report_to: str, out_dir: str | Path, *, project: str, config: dict[str, Any]) -> None:
        check_report_to(report_to)
        self.report_to, self.out_dir, self.project, self.config = report_to, Path(out_dir), project, config
        self._writer: Any = None

    def __call__(self, row: dict[str, Any]) -> None:
        if self.report_to == "none":
            return
        if self._writer is None:
            self._writer = self._open()
        values, step = scalars(row), int(row["step"])
        if self.report_to == "tensorboard":
            for name, value in values.items():
                self._writer.add_scalar(name, value, step)
            self._writer.flush()  # a killed run keeps every step it wrote, as metrics.csv does
        else:
            self._writer.log(values, step=step)

    def close(self) -> None:
        if self._writer is not None:
            (self._writer.close if self.report_to == "tensorboard" else self._writer.finish)()
            self._writer = None

    def _open(self) -> Any:
        if self.report_to == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter

            return SummaryWriter(str(self.out_dir / TENSORBOARD_DIR))
        import trackio

        trackio.init(project=self.project, name=self.out_dir.name, config=self.config)
        return trackio
