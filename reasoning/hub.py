"""Model names, aliases and downloads from the Hugging Face Hub.

Everything that touches the network lives here, so the rest of the package works on local
directories and the failure modes (unknown name, no network) have one clear message each.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

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
DEFAULT_ENDPOINT = "https://huggingface.co"
# Long enough for a slow link to open a connection, short enough that an offline run fails at
# once instead of after huggingface_hub's retries (about 30 s of backoff).
PROBE_SECONDS = 3.0


class UnknownModelError(ValueError):
    """The name is neither a local directory, a known alias, nor a hub id ("org/name")."""


class HubUnavailableError(ConnectionError):
    """The Hugging Face Hub cannot be reached and `name` (a model or dataset) is not in the local cache."""

    def __init__(self, message: str, *, name: str = "") -> None:
        super().__init__(message)
        self.name = name


def endpoint() -> str:
    """The hub's address: HF_ENDPOINT (a mirror) or huggingface.co."""
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def hub_reachable(timeout: float = PROBE_SECONDS) -> bool:
    """Whether the hub can be reached: False at once under HF_HUB_OFFLINE=1, else whether a TCP
    connection to the endpoint (or to its proxy) opens within `timeout` seconds, probed once per
    endpoint and process."""
    import urllib.request

    if offline_by_setting():
        return False
    url = urlsplit(endpoint())
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and not urllib.request.proxy_bypass(url.hostname or ""):
        url = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    port = url.port or (443 if url.scheme == "https" else 80)
    return _can_connect(url.hostname or "", port, timeout)


def offline_by_setting() -> bool:
    """Whether HF_HUB_OFFLINE turns the hub off (1, ON, YES or TRUE, as huggingface_hub reads it)."""
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


def why_unavailable() -> str:
    """Why the hub is not used, for messages: HF_HUB_OFFLINE is set, or the endpoint did not answer."""
    if offline_by_setting():
        return "HF_HUB_OFFLINE is set, so the Hugging Face Hub is not used"
    return f"the Hugging Face Hub ({endpoint()}) is unreachable"


@functools.cache
def _can_connect(host: str, port: int, timeout: float) -> bool:
    # In a thread, because a name lookup that hangs (no DNS server) ignores socket timeouts.
    done, opened = threading.Event(), []

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                opened.append(True)
        except OSError:
            pass
        finally:
            done.set()

    threading.Thread(target=connect, daemon=True).start()
    done.wait(timeout)
    return bool(opened)


@contextlib.contextmanager
def offline_mode() -> Iterator[None]:
    """Make huggingface_hub and datasets serve only their caches, as HF_HUB_OFFLINE=1 does, but
    for this block (they read the variable once, at import)."""
    import huggingface_hub.constants

    candidates = (huggingface_hub.constants, getattr(sys.modules.get("datasets"), "config", None))
    modules = [module for module in candidates if hasattr(module, "HF_HUB_OFFLINE")]
    saved = [module.HF_HUB_OFFLINE for module in modules]
    for module in modules:
        module.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        for module, value in zip(modules, saved, strict=True):
            module.HF_HUB_OFFLINE = value


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


def looks_like_path(name: str) -> bool:
    """Whether `name` means a local path rather than an alias or a hub id ("org/name"): it starts
    with ".", "/" or "~", has a backslash or more than one "/", or its first part is a local directory."""
    if name.startswith((".", "/", "~")) or "\\" in name or name.endswith("/"):
        return True
    parts = name.split("/")
    return len(parts) > 2 or (len(parts) == 2 and Path(parts[0]).is_dir())


def is_base_model(name_or_path: str | Path) -> bool:
    """True for pre-trained base checkpoints (named '*-Base'), False for reasoning models."""
    return Path(str(name_or_path).rstrip("/")).name.lower().endswith("-base")


def download(name_or_path: str | Path, patterns: tuple[str, ...] = CHECKPOINT_FILES) -> Path:
    """Return a local directory holding the model's files, downloading only `patterns`.

    A local directory is returned as is (it must hold config.json when `patterns` ask for it);
    a name that looks like a path but is none raises `FileNotFoundError`. A hub name is fetched
    with `snapshot_download`, which reuses the local cache; when the hub cannot be reached (see
    `hub_reachable`) only the cache is read, and if the files are not there
    `HubUnavailableError` says what to do.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if "config.json" in patterns and not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} is not a checkpoint directory: it has no config.json")
        return path
    if path.exists():
        raise NotADirectoryError(f"{path} is a file, not a checkpoint directory (one with config.json and *.safetensors)")
    if looks_like_path(str(name_or_path)):
        raise FileNotFoundError(f"checkpoint directory {path} does not exist")
    repo_id = resolve_repo_id(str(name_or_path))

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    online = hub_reachable()
    try:
        return Path(snapshot_download(repo_id, allow_patterns=list(patterns), local_files_only=not online))
    except RepositoryNotFoundError as error:
        raise UnknownModelError(
            f"{repo_id!r} is neither a local checkpoint directory nor a model on the Hugging Face Hub (or it is private)"
        ) from error
    except (LocalEntryNotFoundError, OSError) as error:
        raise HubUnavailableError(
            f"cannot download {repo_id!r}: {why_unavailable()} and it is not in "
            f"the local cache; pass a local checkpoint directory instead, or try what runs offline: "
            f"`reasoning train grpo --task toy-addition` (RL on a CPU in about a minute)",
            name=repo_id,
        ) from error


def base_model_name(model: str | None) -> str | None:
    """What adapter checkpoints name as their base: the hub id of an alias or hub id, a local
    directory's absolute path, None for a model built in code (the toy task's)."""
    if model is None:
        return None
    if looks_like_path(model) or Path(model).expanduser().is_dir():
        return str(Path(model).expanduser().resolve())
    return resolve_repo_id(model)
