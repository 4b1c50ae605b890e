"""Model names, aliases and downloads from the Hugging Face Hub.

Everything that touches the network lives here, so the rest of the package works on local
directories and the failure modes (unknown name, no network) have one clear message each.
"""

from __future__ import annotations

from pathlib import Path

# Short alias -> hub id. "-base" names the pre-trained model; the bare name is the
# post-trained reasoning (hybrid thinking) model. Qwen3-32B and 235B-A22B were released without
# a base model. The 2507 releases split the hybrid into an Instruct (no thinking) and a
# Thinking model (its chat template opens <think> itself).
ALIASES: dict[str, str] = {
    **{f"qwen3-{size}-base": f"Qwen/Qwen3-{size.upper()}-Base" for size in ("0.6b", "1.7b", "4b", "8b", "14b", "30b-a3b")},
    **{f"qwen3-{size}": f"Qwen/Qwen3-{size.upper()}" for size in ("0.6b", "1.7b", "4b", "8b", "14b", "32b", "30b-a3b", "235b-a22b")},
    **{
        f"qwen3-{size}-{kind}-2507": f"Qwen/Qwen3-{size.upper()}-{kind.title()}-2507"
        for size in ("4b", "30b-a3b", "235b-a22b")
        for kind in ("instruct", "thinking")
    },
    "qwen3-coder-30b-a3b-instruct": "Qwen/Qwen3-Coder-30B-A3B-Instruct",
}

# What a checkpoint needs: weights, their index, the configs and the tokenizer. Nothing else
# (no PyTorch .bin duplicates, no README or images) is downloaded.
CHECKPOINT_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "model-*.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json")


class UnknownModelError(ValueError):
    """The name is neither a local directory, a known alias, nor a hub id ("org/name")."""


class HubUnavailableError(ConnectionError):
    """The Hugging Face Hub cannot be reached and the files are not in the local cache."""


def resolve_repo_id(name: str) -> str:
    """Map an alias ("qwen3-0.6b") or a hub id ("Qwen/Qwen3-0.6B") to the hub id."""
    key = name.strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    parts = name.strip().split("/")
    if len(parts) == 2 and all(parts):
        return name.strip()
    known = ", ".join(sorted(ALIASES))
    raise UnknownModelError(
        f"unknown model name {name!r}: not a local directory, not a hub id like 'Qwen/Qwen3-0.6B', "
        f"and not one of the aliases: {known}"
    )


def is_base_model(name_or_path: str | Path) -> bool:
    """True for pre-trained base checkpoints (named '*-Base'), False for reasoning models."""
    return Path(str(name_or_path).rstrip("/")).name.lower().endswith("-base")


def download(name_or_path: str | Path, patterns: tuple[str, ...] = CHECKPOINT_FILES) -> Path:
    """Return a local directory holding the model's files, downloading only `patterns`.

    A local directory is returned as is. A hub name is fetched with `snapshot_download`
    (which reuses the local cache); without network it falls back to the cache, and if the
    files are not there raises `HubUnavailableError` with one line saying what to do.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise NotADirectoryError(f"{path} is a file; expected a checkpoint directory or a model name")
    repo_id = resolve_repo_id(str(name_or_path))

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return Path(snapshot_download(repo_id, allow_patterns=list(patterns)))
    except RepositoryNotFoundError as error:
        raise UnknownModelError(f"{repo_id!r} was not found on the Hugging Face Hub (or is private)") from error
    except (LocalEntryNotFoundError, OSError) as error:
        raise HubUnavailableError(
            f"cannot download {repo_id!r}: the Hugging Face Hub is unreachable and it is not in the "
            f"local cache; pass a local checkpoint directory instead, or try what runs offline: "
            f"`reasoning train grpo --task toy-addition` (RL on a CPU in about a minute)"
        ) from error
