"""Evaluation benchmarks by name: where each is read from and how its gold answer is read.

A benchmark loads from the hub by default, or from a local copy: `data`, one file, or
`data_dir`, a directory holding the copies under their usual names (`aime24.jsonl`, ...).
Local and hub copies can lay out a record differently, so each source has its own `Layout`.
Every benchmark loads as a `Task` (reasoning.evaluation.tasks: how its problems are prompted
and graded) of `reasoning.data.Problem`s whose `answer` is the gold answer as a string; for
multiple choice it is the right option's letter, and `meta["choices"]` holds the options'
texts in letter order.

One name, one question set: where a hub dataset holds more than the benchmark (MMLU's 57
subjects), `subjects` keeps the same questions from either source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reasoning.data import DatasetError, Problem, load_problems
from reasoning.evaluation import golds
from reasoning.evaluation.tasks import Kind, Task


@dataclass(frozen=True)
class Read:
    """A value read from a record: `fn` applied to the values of `fields`, in order."""

    fields: tuple[str, ...]
    fn: Callable[..., Any]

    def __call__(self, record: dict[str, Any]) -> Any:
        missing = [name for name in self.fields if name not in record]
        if missing:
            raise ValueError(f"missing field {missing[0]!r} (fields: {', '.join(map(repr, record))})")
        return self.fn(*(record[name] for name in self.fields))


@dataclass(frozen=True)
class Layout:
    """Where one copy of a benchmark keeps each part of a record, and how its gold is read."""

    question: str
    gold: Read  # the gold answer; for multiple choice, the right option's letter
    id: str | None = None  # None: a problem's id is its index in the source
    subject: str | None = None
    level: str | None = None
    solution: str | None = None
    choices: Read | None = None  # the options' texts in letter order (multiple choice only)


@dataclass(frozen=True)
class Hub:
    """A benchmark's dataset on the Hugging Face Hub."""

    dataset: str
    split: str
    layout: Layout
    config: str | None = None


@dataclass(frozen=True)
class Benchmark:
    """A named benchmark: its kind, hub source, local file names and their layout."""

    name: str
    kind: Kind
    hub: Hub
    files: tuple[str, ...] = ()  # local names tried in order inside a data directory; () = hub only
    local: Layout | None = None  # the local copies' layout, where it differs from the hub's
    access: str = ""  # what loading it from the hub takes, said when there is no local copy
    official_prompt: str | None = None  # the prompt preset its authors evaluate with (`--prompt official`)
    subjects: frozenset[str] | None = None  # only problems of these subjects, from the hub and from a file

    @property
    def local_layout(self) -> Layout:
        return self.local or self.hub.layout


_ANSWER = Read(("answer",), golds.as_written)
_AMC = Read(("answer",), golds.whole_number)  # stored as a float: 27.0
_GSM8K = Read(("answer",), golds.after_hashes)
_OLYMPIAD = Layout("question", Read(("final_answer",), golds.joined_answers), id="id", subject="subfield")
_MMLU_GOLD = Read(("answer", "choices"), golds.letter_of)
_MMLU_CHOICES = Read(("choices",), golds.option_texts)
# MMLU-STEM as Qwen2.5-Math's harness evaluates it (its evaluation/data/mmlu_stem/test.jsonl, our
# local copy): these 18 subjects of MMLU's test split, 3,018 questions. TIGER-Lab/MMLU-STEM holds
# other subjects too, so the hub copy is cais/mmlu's test split, kept to the same subjects.
MMLU_STEM_SUBJECTS = frozenset({
    "abstract_algebra", "astronomy", "college_biology", "college_chemistry", "college_computer_science",
    "college_mathematics", "college_physics", "computer_security", "conceptual_physics", "electrical_engineering",
    "elementary_mathematics", "high_school_biology", "high_school_chemistry", "high_school_computer_science",
    "high_school_mathematics", "high_school_physics", "high_school_statistics", "machine_learning",
})  # fmt: skip
# The Record ID seeds the order of GPQA's options, which the dataset stores right answer first.
_GPQA_FIELDS = ("Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3", "Record ID")

BENCHMARKS: dict[str, Benchmark] = {
    benchmark.name: benchmark
    for benchmark in (
        Benchmark(
            "math500", "math",
            Hub("HuggingFaceH4/MATH-500", "test", Layout(
                "problem", _ANSWER, id="unique_id", subject="subject", level="level", solution="solution",
            )),
            files=("math500_test.json", "math500.jsonl"),
        ),
        Benchmark(
            "aime24", "math",
            Hub("HuggingFaceH4/aime_2024", "train", Layout("problem", _ANSWER, id="id", solution="solution")),
            files=("aime24.jsonl",),
        ),
        Benchmark(
            "aime25", "math",
            Hub("math-ai/aime25", "test", Layout("problem", _ANSWER, id="id")),
            files=("aime25.jsonl",),
            local=Layout("problem", _ANSWER),
        ),
        Benchmark(
            "amc23", "math",
            Hub("math-ai/amc23", "test", Layout("question", _AMC)),
            files=("amc23.jsonl",),
            local=Layout("question", _AMC, id="id"),
        ),
        Benchmark(
            "gsm8k", "math",
            Hub("openai/gsm8k", "test", Layout("question", _GSM8K, solution="answer"), config="main"),
            files=("gsm8k.jsonl",),
            local=Layout("question", _GSM8K, id="idx", solution="answer"),
        ),
        Benchmark(
            "minerva", "math",
            Hub("math-ai/minervamath", "test", Layout("question", _ANSWER)),
            files=("minerva_math.jsonl",),
            local=Layout(
                "problem", Read(("solution",), golds.last_box), id="idx", subject="type", solution="solution",
            ),
        ),
        Benchmark(
            "olympiadbench", "math",
            Hub("Hothan/OlympiadBench", "train", _OLYMPIAD, config="OE_TO_maths_en_COMP"),
            files=("olympiadbench.jsonl",),
            official_prompt="olympiad-official",
        ),
        Benchmark(
            "mmlu-stem", "choice",
            Hub("cais/mmlu", "test", Layout("question", _MMLU_GOLD, subject="subject", choices=_MMLU_CHOICES), config="all"),
            files=("mmlu_stem.jsonl",),
            local=Layout("question", _MMLU_GOLD, subject="type", choices=_MMLU_CHOICES),
            subjects=MMLU_STEM_SUBJECTS,
        ),
        Benchmark(
            "gpqa-diamond", "choice",
            Hub("Idavidrein/gpqa", "train", Layout(
                "Question", Read(_GPQA_FIELDS, golds.shuffled_letter), id="Record ID", subject="Subdomain",
                choices=Read(_GPQA_FIELDS, golds.shuffled_options),
            ), config="gpqa_diamond"),
            access="Idavidrein/gpqa is gated: accept its terms on the Hugging Face Hub and log in with `hf auth login`.",
            official_prompt="gpqa-official",
        ),
    )
}  # fmt: skip


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called `name`; a ValueError lists the known names."""
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; known benchmarks: {', '.join(BENCHMARKS)}") from None


def parse_benchmarks(text: str) -> list[str]:
    """Benchmark names from a comma-separated list ("math500,aime24"), checked, first mentions kept."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError(f"no benchmark named in {text!r}; known benchmarks: {', '.join(BENCHMARKS)}")
    for name in names:
        get_benchmark(name)
    return list(dict.fromkeys(names))


def load_benchmark(
    name: str, *, data_dir: str | Path | None = None, data: str | Path | None = None, limit: int | None = None
) -> Task:
    """Benchmark `name` as a task: its problems from the file `data`, from its file in
    `data_dir`, or (neither given) from the hub. `limit` keeps the first `limit` problems."""
    benchmark = get_benchmark(name)
    if data is not None and data_dir is not None:
        raise ValueError("pass a benchmark's data file or a data directory, not both")
    if data is None and data_dir is None:
        hub = benchmark.hub
        source, split, config, layout = hub.dataset, hub.split, hub.config, hub.layout
        where = f"{hub.dataset} ({hub.split})"
    else:
        source = Path(data) if data is not None else _local_file(benchmark, Path(data_dir))
        split, config, layout, where = "train", None, benchmark.local_layout, str(source)
    # load_problems checks each question and id and keeps the other fields in `meta`; the gold
    # is read from them afterwards (OlympiadBench stores a list, GPQA four options).
    problems = load_problems(
        source, question_field=layout.question, answer_field=None, id_field=layout.id,
        split=split, config=config, limit=None if benchmark.subjects else limit,
    )  # fmt: skip
    golden = [_with_gold(problem, layout, where) for problem in problems]
    if benchmark.subjects:  # the limit counts the benchmark's own problems
        golden = [problem for problem in golden if problem.subject in benchmark.subjects][:limit]
    return Task(name, tuple(golden), benchmark.kind, official_prompt=benchmark.official_prompt)


def load_benchmarks(
    names: list[str], *, data_dir: str | Path | None = None, data: str | Path | None = None, limit: int | None = None
) -> list[Task]:
    """Several benchmarks as tasks (see `load_benchmark`); `data` names one file, so it goes
    with exactly one benchmark."""
    if data is not None and len(names) != 1:
        raise ValueError("--data names one file, so give exactly one benchmark (or --data-dir for several)")
    return [load_benchmark(name, data_dir=data_dir, data=data, limit=limit) for name in names]


def _local_file(benchmark: Benchmark, directory: Path) -> Path:
    """The first of the benchmark's file names present in `directory`, or an error naming them."""
    if not benchmark.files:
        raise FileNotFoundError(
            f"{benchmark.name} loads from the hub only, not from a data directory. {benchmark.access}"
        )
    if not directory.is_dir():
        raise NotADirectoryError(f"data directory not found: {directory}")
    for name in benchmark.files:
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(f"{directory} holds no {benchmark.name} file: expected {' or '.join(benchmark.files)}")


def _with_gold(problem: Problem, layout: Layout, where: str) -> Problem:
    """The problem with its gold answer (and options) read from the record; its subject, level
    and solution moved out of `meta`, which keeps the record's other fields."""
    record = {layout.question: problem.question, **({layout.id: problem.id} if layout.id else {}), **problem.meta}
    try:
        answer = layout.gold(record)
        choices = layout.choices(record) if layout.choices else None
    except ValueError as error:
        raise DatasetError(f"{where}, problem {problem.id}: {error}") from None
    used = {layout.question, layout.id, layout.subject, layout.level, layout.solution}
    used.update(layout.gold.fields, layout.choices.fields if layout.choices else ())
    meta = {key: value for key, value in record.items() if key not in used}
    if choices is not None:
        meta["choices"] = choices
    return replace(
        problem,
        answer=answer,
        subject=record.get(layout.subject) if layout.subject else None,
        level=record.get(layout.level) if layout.level else None,
        solution=record.get(layout.solution) if layout.solution else None,
        meta=meta,
    )
