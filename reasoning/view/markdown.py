"""A run's Markdown digest, for pasting into notes and issues: the summary table per task and
the wrong samples with the shortest texts (the quickest failures to read)."""

from __future__ import annotations

import re
from typing import Any

DIGEST_CAP = 2000  # characters of a sample's text shown in the digest


def report_markdown(data: dict[str, Any], wrong: int = 10) -> str:
    """The digest of the viewer's data (`data.view_data`): a summary table per run, then the
    `wrong` shortest wrong samples of each run."""
    lines = []
    for run in data["runs"]:
        lines += [f"## {run['name']}", "", "| task | problems | n | pass@1 | pass@k | maj@k | mean tokens | truncated | unfinished |",
                  "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for task in run["tasks"]:
            s, k = task["summary"], task["summary"]["k"]
            lines.append(
                f"| {_cell(task['task'])} | {s['problems']} | {s['samples']} | {_pct(s['pass@1'])} ± {_pct(s['pass@1_stderr'])} "
                f"| {_at_k(s['pass@k'], k)} | {_at_k(s['maj@k'], k)} | {s['mean_tokens']:.0f} "
                f"| {_pct(s['truncated'])} | {_pct(s['unfinished'])} |"
            )
        shortest = shortest_wrong(run, wrong)
        lines += ["", f"### The {len(shortest)} shortest wrong samples", ""]
        for task, row, index, sample in shortest:
            text = sample["thinking"] + ("</think>" if sample["thinking_state"] == "closed" else "") + sample["answer"]
            lines += [
                f"**{_cell(task)} · {_cell(row['id'])} · sample {index}** · gold `{_code(row['gold'])}` "
                f"· extracted `{_code(sample['extracted'])}` "
                f"· {sample['grade']} · {sample['tokens']} tokens · {sample['finish_reason']}",
                "", *_fenced(text[:DIGEST_CAP] + (" [...]" if len(text) > DIGEST_CAP else "")), "",
            ]  # fmt: skip
    return "\n".join(lines) + "\n"


def shortest_wrong(run: dict[str, Any], count: int) -> list[tuple[str, dict[str, Any], int, dict[str, Any]]]:
    """The run's `count` wrong samples with the shortest texts, as (task, problem row, sample index, sample)."""
    wrong = [(task["task"], row, index, sample) for task in run["tasks"] for row in task["problems"]
             for index, sample in enumerate(row["samples"]) if not sample["correct"]]  # fmt: skip
    return sorted(wrong, key=lambda item: len(item[3]["thinking"]) + len(item[3]["answer"]))[:count]


def _fenced(text: str) -> list[str]:
    """A code block that the text cannot close: its fence is longer than any run of backticks in it."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", text)), default=0))
    return [fence, text, fence]


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _code(value: Any) -> str:
    return "-" if value is None else _cell(value).replace("`", "'")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _at_k(value: float | None, k: int | None) -> str:
    return "-" if k is None else f"{_pct(value)} (k={k})"
