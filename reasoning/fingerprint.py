"""What a model is, for a run's saved settings: its canonical name and a fingerprint of its files.

A resumed run must continue with the same weights, however the model is spelled: an alias and
its hub id, a relative and an absolute path, or a path with a trailing slash all name one
model, while new weights saved at the same path are another. The fingerprint hashes
config.json and, for every weight file, its name, size, safetensors header (the names,
shapes, dtypes and offsets of its tensors) and bytes sampled across it: about 2 MiB read,
whatever the model's size, and a conversion changes a header or a size while retraining in
the same shapes changes the sampled bytes.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

from reasoning import hub

# The files that make a model: its config, weights, index and (for an adapter) the adapter's own.
_FILES = ("config.json", "model.safetensors.index.json", "adapter_config.json")
_HEADER_LIMIT = 100 * 2**20  # safetensors caps its header at 100 MB
# A weight file up to _WHOLE_FILE bytes is hashed whole (adapters, tiny models); a larger one by
# _BLOCKS blocks of _BLOCK bytes (2 MiB read from a 1.2 GB checkpoint: milliseconds).
_WHOLE_FILE, _BLOCKS, _BLOCK = 16 * 2**20, 32, 64 * 2**10


def identify(name: str | Path, _depth: int = 0) -> dict[str, Any]:
    """{"model": canonical name, "model_fingerprint": hash} of a model named as the command line
    names it: a checkpoint directory by its absolute path, an alias or hub id by the hub id (its
    files read from the local cache, never downloaded: call this after loading the model). A
    name that is neither a directory nor a cached hub model (a model built in code) is kept as
    it is, without a fingerprint."""
    path = Path(name).expanduser()
    if path.is_dir():
        directory = path.resolve()
        return {"model": str(directory), "model_fingerprint": fingerprint(directory, _depth)}
    try:
        repo_id = hub.resolve_repo_id(str(name))
    except hub.UnknownModelError:
        return {"model": str(name)}
    cached = _cached_snapshot(repo_id)
    return {"model": repo_id, **({"model_fingerprint": fingerprint(cached, _depth)} if cached else {})}


def _cached_snapshot(repo_id: str) -> Path | None:
    """The local cache's snapshot of a hub model, or None; never touches the network."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, allow_patterns=list(hub.CHECKPOINT_FILES), local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None


def fingerprint(directory: str | Path, _depth: int = 0) -> str:
    """A short hash of a checkpoint directory's config and weight files (sizes and safetensors
    headers, not the tensors' bytes), and for a LoRA adapter, of the base it names as well (the
    same adapter on other base weights is another model); raises ValueError for a weight file
    that is not safetensors."""
    directory = Path(directory)
    digest = hashlib.sha256()
    base = _adapter_base(directory)
    if base is not None and _depth < 8:  # an adapter over an adapter: each base in turn (a cycle stops here)
        digest.update(json.dumps(identify(base, _depth + 1), sort_keys=True).encode())
    names = [name for name in _FILES if (directory / name).is_file()]
    names += sorted(path.name for path in directory.glob("*.safetensors"))
    if not names:
        raise FileNotFoundError(f"{directory} holds no model files (config.json, *.safetensors)")
    for name in names:
        path = directory / name
        digest.update(f"{name}\0{path.stat().st_size}\0".encode())
        if name.endswith(".safetensors"):
            digest.update(_safetensors_header(path))
            _sample_bytes(path, digest)
        else:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _sample_bytes(path: Path, digest: Any) -> None:
    """Feed `digest` the whole file if it is small, else 32 blocks spread evenly over it: weights
    retrained in the same shapes keep every header and size, but change nearly every block."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size <= _WHOLE_FILE:
            digest.update(handle.read())
            return
        for k in range(_BLOCKS):
            handle.seek(k * (size - _BLOCK) // (_BLOCKS - 1))
            digest.update(handle.read(_BLOCK))


def _adapter_base(directory: Path) -> str | None:
    """The base model a LoRA adapter directory names (adapter_config.json), or None."""
    try:
        base = json.loads((directory / "adapter_config.json").read_text()).get("base_model_name_or_path")
    except (OSError, ValueError, AttributeError):  # no adapter, or a config that loading refuses with its own message
        return None
    return base if isinstance(base, str) and base else None


def _safetensors_header(path: Path) -> bytes:
    """The JSON header of a safetensors file: an 8-byte little-endian length, then that many bytes."""
    with path.open("rb") as handle:
        start = handle.read(8)
        (length,) = struct.unpack("<Q", start) if len(start) == 8 else (-1,)
        if not 0 < length <= min(_HEADER_LIMIT, path.stat().st_size - 8):
            raise ValueError(f"{path} is not a safetensors file (its header length is unreadable)")
        return handle.read(length)
