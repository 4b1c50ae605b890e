"""Bad --prompt and --shots values of `eval run` and `eval budget` (rows of error_table): each
refused before any weights load, leaving nothing behind."""

from __future__ import annotations

import sys
import types
from pathlib import Path

from error_table import ErrorCase
from errors_evaluation import BUDGET, EVAL, no_loading, nothing_written

FIXTURES = Path(__file__).parent / "data" / "benchmarks"  # no mmlu_dev.jsonl among them


def hub_out_of_reach(tmp: Path, monkeypatch) -> dict:
    """As no_loading, with the hub offline and no dataset in the cache."""

    def load_dataset(*args, **kwargs):
        raise ConnectionError("Couldn't reach the Hub")

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return {**no_loading(tmp, monkeypatch), "fixtures": str(FIXTURES)}

CASES = [
    ErrorCase("eval-unknown-prompt", (*EVAL, "--prompt", "r2"), ("--prompt", "invalid choice: 'r2'"), no_loading, usage=True),
    ErrorCase("eval-negative-shots", (*EVAL, "--shots", "-1"), ("--shots",), no_loading, usage=True),
    ErrorCase("eval-more-shots-than-exemplars", (*EVAL, "--shots", "5"),
              ("math500's few-shot format (minerva) has 4 exemplars; --shots 5 asks for more",), no_loading, nothing_written),
    ErrorCase("eval-shots-with-a-prompt-preset", (*EVAL, "--shots", "4", "--prompt", "r1"),
              ("a few-shot prompt (--shots) is a base model's whole prompt: not with --prompt",), no_loading, nothing_written),
    ErrorCase("eval-olympiad-prompt-without-its-fields", (*EVAL, "--prompt", "olympiad-official"),
              ("the olympiad-official prompt needs OlympiadBench's 'answer_type' field",), no_loading, nothing_written),
    ErrorCase("eval-official-prompt-of-a-benchmark-without-one", (*EVAL, "--prompt", "official"),
              ("math500 has no official prompt of its own",), no_loading, nothing_written),
    ErrorCase("eval-choice-prompt-on-math", (*EVAL, "--prompt", "gpqa-official"),
              ("the gpqa-official prompt has no form for math problems",), no_loading, nothing_written),
    ErrorCase("budget-official-prompt-of-a-benchmark-without-one", (*BUDGET, "--prompt", "official"),
              ("math500 has no official prompt of its own",), no_loading, nothing_written),
    ErrorCase("eval-mmlu-shots-without-the-dev-split",
              ("eval", "run", "--bench", "mmlu-stem", "--model", "m", "--data-dir", "{fixtures}", "--shots", "5", "--out", "{run}"),
              ("MMLU's 5-shot exemplars come from the dev split of cais/mmlu, which cannot be loaded", "mmlu_dev.jsonl", "--shots 0"),
              hub_out_of_reach, nothing_written),
]  # fmt: skip
