"""Bad inputs of `eval run`, `eval budget`, `eval score` and `eval compare` (rows of error_table).

Every option is checked before any weights load: `setup` makes loading fail the test, so a row
passes only if its error comes first, and `after` checks that nothing was left that a
corrected rerun or `--resume` would refuse."""

from __future__ import annotations

import json
from pathlib import Path

from error_table import ErrorCase

PROBLEMS = [{"problem": f"{i} + 1?", "answer": str(i + 1), "unique_id": f"p{i}"} for i in range(3)]


def no_loading(tmp: Path, monkeypatch) -> dict:
    """A small data file, a run directory path, and loading a model made an error."""
    import reasoning.checkpoint

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr(reasoning.checkpoint, "load_pretrained", refuse)
    data = tmp / "math.jsonl"
    data.write_text("".join(json.dumps(problem) + "\n" for problem in PROBLEMS))
    return {"data": data, "run": tmp / "run"}


def started(tmp: Path, monkeypatch) -> dict:
    """As no_loading, with the run directory already holding a record of math500 (and of a budget sweep)."""
    values = no_loading(tmp, monkeypatch)
    values["run"].mkdir()
    for name in ("math500.jsonl", "math500@4.jsonl"):
        lines = [{"settings": {"model": "m"}}, {"id": "p0", "index": 0, "samples": [], "groups": []}]
        (values["run"] / name).write_text("".join(json.dumps(line) + "\n" for line in lines))
    return values


def nothing_written(tmp: Path, values: dict) -> None:
    assert not values["run"].exists() or not list(values["run"].iterdir()), "a failed start left files behind"


EVAL = ("eval", "run", "--bench", "math500", "--model", "m", "--data", "{data}", "--out", "{run}")
BUDGET = ("eval", "budget", "--bench", "math500", "--model", "m", "--data", "{data}", "--budgets", "4", "--out", "{run}")

CASES = [
    ErrorCase("eval-min-thinking-above-budget", (*EVAL, "--thinking-budget", "10", "--min-thinking", "20"),
              ("min_thinking 20 is above thinking_budget 10",), no_loading, nothing_written),
    ErrorCase("eval-closing-without-think-end", (*EVAL, "--thinking-budget", "10", "--thinking-closing", "Time is up."),
              ("thinking_closing must contain </think>",), no_loading, nothing_written),
    ErrorCase("eval-self-refine-with-several-samples", (*EVAL, "--strategy", "self-refine", "--protocol", "r1", "--n", "4"),
              ("self-refine refines one sample per problem: use n 1, not 4",), no_loading, nothing_written),
    ErrorCase("eval-loglik-on-open-ended", (*EVAL, "--scoring", "loglik"),
              ("loglik scoring reads a choice letter; math500 is not multiple choice",), no_loading, nothing_written),
    ErrorCase("eval-greedy-with-several-samples", (*EVAL, "--protocol", "greedy", "--n", "4"),
              ("4 greedy samples would all be the same",), no_loading, nothing_written),
    ErrorCase("eval-run-over-results", EVAL, ("{run}/math500.jsonl already holds results: pass --resume",), started),
    ErrorCase("budget-run-over-results", BUDGET, ("{run}/math500@4.jsonl already holds results: pass --resume",), started),
    ErrorCase("score-empty-directory", ("eval", "score", "{run}"), ("{run} holds no records",),
              lambda tmp, mp: (tmp / "run").mkdir() or {"run": tmp / "run"}),
]  # fmt: skip
