"""Few-shot prompts for base models: the standard exemplars before the question, and the stop
strings that end the answer.

Published base-model figures are few-shot: GSM8K 8-shot chain of thought (Wei et al. 2022),
MATH and Minerva 4-shot (Lewkowycz et al. 2022), MMLU 5-shot from the dev split of each
subject (Hendrycks et al. 2021). Each format is laid out as EleutherAI's lm-evaluation-harness
lays it out (shots joined by a blank line, the answer after one space), and each has stop
strings: without them a base model, having answered, writes the next "Q:" or "Problem:" and
answers that too, and the last answer is the one graded. The GSM8K and Minerva exemplars are
package data (fewshot_data/, each file naming its source); MMLU's come from `cais/mmlu`'s dev
split, from the hub or from `mmlu_dev.jsonl` in a data directory.
"""

from __future__ import annotations

import json
import string
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from reasoning.data import HubUnavailableError, Problem, load_problems
from reasoning.generation.api import GenerationConfig

MMLU_DEV = ("cais/mmlu", "all", "dev")  # dataset, config, split: 5 questions per subject
MMLU_DEV_FILE = "mmlu_dev.jsonl"  # a local copy of that split, with its fields


@dataclass(frozen=True)
class Format:
    """How one few-shot prompt is laid out: the question block (ending where the answer goes),
    what joins the shots, the header before them, and the stop strings, from `source`."""

    name: str
    source: str
    question: str  # "{question}" and, for multiple choice, "{options}" are filled
    stop: tuple[str, ...]
    header: str = ""  # "{subject}" is filled
    separator: str = "\n\n"
    shots: int = 0  # the standard number of shots


FORMATS: dict[str, Format] = {
    fmt.name: fmt
    for fmt in (
        # lm-evaluation-harness, lm_eval/tasks/gsm8k/gsm8k-cot.yaml: doc_to_text and `until`.
        Format("gsm8k-cot", "Wei et al. 2022; lm-evaluation-harness gsm8k-cot", "Q: {question}\nA:", ("Q:", "</s>", "<|im_end|>"), shots=8),
        # lm-evaluation-harness, lm_eval/tasks/minerva_math/utils.py doc_to_text and the tasks' `until`.
        Format("minerva", "Lewkowycz et al. 2022; lm-evaluation-harness minerva_math", "Problem:\n{question}\n\nSolution:", ("Problem:",),
               shots=4),
        # lm-evaluation-harness, lm_eval/tasks/mmlu/generative/_default_template_yaml (doc_to_text,
        # `until`) and each subject's description, as Hendrycks et al.'s evaluate.py writes them.
        Format(
            "mmlu", "Hendrycks et al. 2021; lm-evaluation-harness mmlu (generative)", "{question}\n{options}\nAnswer:", ("</s>", "\n"),
            header="The following are multiple choice questions (with answers) about {subject}.\n\n", shots=5,
        ),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Shot:
    """One exemplar: its question (and options), its written answer, its subject."""

    question: str
    answer: str
    options: tuple[str, ...] = ()
    subject: str | None = None


@dataclass(frozen=True)
class FewShot:
    """A task's few-shot prompt: the format and its exemplars (MMLU: by subject)."""

    format: Format
    shots: tuple[Shot, ...]
    k: int

    @property
    def stop(self) -> tuple[str, ...]:
        return self.format.stop

    def settings(self) -> dict[str, Any]:
        """The few-shot prompt's part of a run's saved settings: shots, format and stop strings."""
        return {"shots": self.k, "fewshot_format": self.format.name, "stop": list(self.stop)}

    def prompt(self, problem: Problem) -> str:
        """The k exemplars of the problem's subject (any subject where the format has none),
        then the problem, left open for the answer."""
        options = tuple(problem.meta.get("choices") or ())
        subject = problem.subject if self.format.header else None
        shots = [shot for shot in self.shots if subject is None or shot.subject == subject][: self.k]
        if len(shots) < self.k:
            raise ValueError(f"{self.format.name}: {len(shots)} exemplars for subject {subject!r}, fewer than the {self.k} shots asked for")
        blocks = [f"{self._block(shot.question, shot.options)} {shot.answer}" for shot in shots]
        blocks.append(self._block(problem.question, options))
        header = self.format.header.replace("{subject}", (subject or "").replace("_", " "))
        return header + self.format.separator.join(blocks)

    def _block(self, question: str, options: Sequence[str]) -> str:
        listed = "\n".join(f"{letter}. {option}" for letter, option in zip(string.ascii_uppercase[: len(options)], options, strict=True))
        text = self.format.question.replace("{options}", listed) if options else self.format.question
        return text.replace("{question}", question.strip() if options else question)


def with_stop(config: GenerationConfig, fewshot: FewShot | None) -> GenerationConfig:
    """`config` with the few-shot format's stop strings added (unchanged without few-shot)."""
    if fewshot is None:
        return config
    return replace(config, stop=tuple(dict.fromkeys((*config.stop, *fewshot.stop))))


def format_for(task_name: str, kind: str) -> Format:
    """The few-shot format of a benchmark: GSM8K's chain of thought, MMLU's for mmlu-stem,
    Minerva's for every other math benchmark."""
    if task_name == "gsm8k":
        return FORMATS["gsm8k-cot"]
    if task_name == "mmlu-stem":
        return FORMATS["mmlu"]
    if kind == "math":
        return FORMATS["minerva"]
    raise ValueError(f"{task_name} has no few-shot format (few-shot is for gsm8k, mmlu-stem and the math benchmarks): use --shots 0")


def check_shots(tasks: Sequence[tuple[str, str]], k: int | None) -> None:
    """Refuse, before anything loads, a shot count no format has for one of (name, kind) `tasks`
    (None: each format's standard number)."""
    if k is not None and k < 0:
        raise ValueError(f"--shots must be >= 0, got {k}")
    for name, kind in tasks if k != 0 else ():
        fmt = format_for(name, kind)
        if k is not None and k > fmt.shots:
            raise ValueError(f"{name}'s few-shot format ({fmt.name}) has {fmt.shots} exemplars; --shots {k} asks for more")


def load_fewshot(task_name: str, kind: str, k: int | None, *, data_dir: str | Path | None = None) -> FewShot:
    """Task `task_name`'s k-shot prompt (None: its format's standard number of shots): package
    exemplars, or MMLU's dev split (from `data_dir`/mmlu_dev.jsonl when there is one, else the hub)."""
    check_shots([(task_name, kind)], k)
    fmt = format_for(task_name, kind)
    shots = mmlu_dev_shots(data_dir) if fmt.name == "mmlu" else package_shots(fmt.name)
    return FewShot(fmt, shots, fmt.shots if k is None else k)


def package_shots(name: str) -> tuple[Shot, ...]:
    """The exemplars shipped in fewshot_data/<name>.json (GSM8K, Minerva)."""
    data = json.loads(resources.files("reasoning.evaluation").joinpath("fewshot_data", f"{name.replace('-', '_')}.json").read_text())
    return tuple(Shot(item["question"], item["answer"]) for item in data["exemplars"])


def mmlu_dev_shots(data_dir: str | Path | None = None) -> tuple[Shot, ...]:
    """MMLU's dev split (5 questions per subject) as shots; a clear error where it cannot be loaded."""
    local = Path(data_dir) / MMLU_DEV_FILE if data_dir is not None else None
    dataset, config, split = MMLU_DEV
    try:
        if local is not None and local.is_file():
            problems = load_problems(local, question_field="question", answer_field=None)
        else:
            problems = load_problems(dataset, question_field="question", answer_field=None, split=split, config=config)
    except HubUnavailableError as error:  # said in full here: the command's offline advice knows no --shots
        raise ValueError(
            f"MMLU's 5-shot exemplars come from the dev split of {dataset}, which cannot be loaded ({error}): "
            f"put a copy at DIR/{MMLU_DEV_FILE} and pass --data-dir DIR, or use --shots 0"
        ) from None
    return tuple(
        Shot(p.question.strip(), string.ascii_uppercase[int(p.meta["answer"])], tuple(p.meta["choices"]), p.meta["subject"])
        for p in problems
    )
