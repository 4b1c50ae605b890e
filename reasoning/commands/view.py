"""`reasoning view`: argument parsing and calls, no logic (the viewer is `reasoning.view`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from reasoning.flags import output_file, positive_int


def add_view_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `view`."""
    parser = subparsers.add_parser(
        "view", help="write one self-contained HTML page (or a Markdown digest) of evaluation runs: summaries, problems, traces"
    )
    parser.add_argument(
        "runs", nargs="+", type=Path, help="eval run or budget directories, records files (several: side by side), or a samples.jsonl"
    )
    parser.add_argument(
        "--out", type=output_file, default=None, help="the report file (default: report.html, or report.md with --format md)"
    )
    parser.add_argument("--format", choices=("html", "md"), default="html", help="html: the interactive page; md: a Markdown digest")
    parser.add_argument("--wrong", type=positive_int, default=10, help="--format md: how many wrong samples (the shortest) to show")
    parser.set_defaults(func=run_view)


def run_view(args: argparse.Namespace) -> None:
    from reasoning.view.html import report_html
    from reasoning.view.markdown import report_markdown
    from reasoning.view.training import page_data

    for run in args.runs:
        if not run.exists():
            raise FileNotFoundError(f"{run} does not exist: expected an eval run directory or a records file")
    data = page_data(args.runs)
    if "training" in data and args.format == "md":
        raise ValueError("--format md digests evaluation runs; a training samples log is viewed as html")
    out = args.out or Path(f"report.{args.format}")
    text = (
        report_html(data, title=" vs ".join(str(run) for run in args.runs)) if args.format == "html" else report_markdown(data, args.wrong)
    )
    temporary = out.with_name(out.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, out)
    size = f"wrote {out} ({os.path.getsize(out) / 1e6:.2f} MB)"
    if "training" in data:
        print(f"{size}: {len(data['training']['samples'])} training samples")
        return
    problems = sum(len(task["problems"]) for task in data["runs"][0]["tasks"])
    print(f"{size}: {len(data['runs'])} run(s), {problems} problems in the first")
