"""The package's floors (reasoning/README.md): every import runs down a floor or stays on its own,
there is no circle, and the boundaries the map names hold. Read from the source with `ast`, so
a late (function-level) import counts as much as one at the top; imports only for type
checkers (`if TYPE_CHECKING:`) do not."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "reasoning"

FLOORS = [  # lowest first: a module may import from its own floor and the floors below
    ("foundations", ["device", "flags", "hub", "fingerprint", "data", "distributed", "vocab", "chat_template", "tokenizer", "prompts", "grading"]),
    ("model", ["model"]),
    ("weights and generation", ["adapter_files", "checkpoint", "book", "lora", "logprobs", "generation"]),
    ("inference-time methods", ["scaling"]),
    ("evaluation", ["evaluation"]),
    ("training", ["training"]),
    ("trainers", ["rl", "sft"]),
    ("viewer", ["view"]),
    ("serving", ["serving"]),
    ("commands", ["commands", "cli", "__main__"]),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The reasoning modules a file imports (a name imported from a package counts as its module)."""
    tree = ast.parse(path.read_text())
    typing_only = {id(node) for branch in ast.walk(tree) if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
                   for node in ast.walk(branch)}  # fmt: skip
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "reasoning":
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names if _is_module(f"{node.module}.{alias.name}")}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "reasoning"}
    return found - {"reasoning"}  # the package root only re-exports, lazily


def _is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


GRAPH = {module_name(path): imports(path) for path in sorted(PACKAGE.rglob("*.py")) if module_name(path) != "reasoning"}


def floor_of(module: str) -> int:
    top = module.split(".")[1]
    return next(level for level, (_, members) in enumerate(FLOORS) if top in members)


def test_every_module_has_a_floor():
    assert all(floor_of(module) >= 0 for module in GRAPH)


def test_no_import_runs_up_a_floor():
    upward = sorted(
        f"{module} ({FLOORS[floor_of(module)][0]}) imports {target} ({FLOORS[floor_of(target)][0]})"
        for module, targets in GRAPH.items() for target in targets if floor_of(target) > floor_of(module)
    )  # fmt: skip
    assert upward == []


def test_rl_and_sft_never_import_each_other_and_grading_and_the_model_stand_alone():
    def crossing(source: str, allowed: tuple[str, ...]) -> list[str]:
        return sorted(
            f"{module} -> {target}" for module, targets in GRAPH.items() if module.startswith(f"reasoning.{source}")
            for target in targets if not target.startswith(tuple(f"reasoning.{name}" for name in allowed))
        )  # fmt: skip

    assert not [m for m, t in GRAPH.items() if m.startswith("reasoning.rl") and any(x.startswith("reasoning.sft") for x in t)]
    assert not [m for m, t in GRAPH.items() if m.startswith("reasoning.sft") and any(x.startswith("reasoning.rl") for x in t)]
    assert crossing("grading", ("grading",)) == []  # pure string maths: the worker processes import nothing else
    assert crossing("model", ("model",)) == []  # the model does no I/O and knows no tokenizer or hub
    assert crossing("evaluation", ("evaluation", "data", "grading", "prompts", "tokenizer", "distributed",
                                   "generation", "scaling", "model", "fingerprint")) == []  # fmt: skip


def test_there_is_no_circle():
    seen, on_path, circles = set(), [], []

    def visit(module: str) -> None:
        if module in on_path:
            circles.append(on_path[on_path.index(module) :] + [module])
            return
        if module in seen or module not in GRAPH:
            return
        seen.add(module)
        on_path.append(module)
        for target in sorted(GRAPH[module]):
            visit(target)
        on_path.pop()

    for module in GRAPH:
        visit(module)
    assert circles == []


def test_an_upward_import_would_be_caught(tmp_path):
    """The check reads what it should: a made-up evaluation module importing the trainer is upward."""
    stray = tmp_path / "stray.py"
    stray.write_text("def f():\n    from reasoning.rl.trainer import train\n")
    assert imports(stray) == {"reasoning.rl.trainer"} and floor_of("reasoning.rl.trainer") > floor_of("reasoning.evaluation.run")
