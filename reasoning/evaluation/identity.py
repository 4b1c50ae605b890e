"""The settings that say which model produced a run's records, and in what numbers.

Every run's settings header starts with these, read off the model itself where possible so no
caller can forget one: the weights (canonical name and file fingerprint, `reasoning.fingerprint`),
the dtype they compute in, whether they were quantised, and the kind of device. Resuming with
int8 weights a run begun in bf16 would mix two models' samples in one file; with these in the
header it is refused, naming the setting, the saved value and the new one.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from reasoning.fingerprint import identify
from reasoning.generation.endpoint import Endpoint
from reasoning.model.quantize import is_quantized


def model_settings(model: nn.Module | Endpoint, name: str) -> dict[str, Any]:
    """{"model", "model_fingerprint" (where `name` is a checkpoint on disk), "dtype", "quantize",
    "device"} of a model loaded from `name`; for an `Endpoint`, the served model's name, the
    fingerprint of its weights where the server shows one (`reasoning serve` does), and the API
    the prompts go through. Not its URL: a server restarted on another port serves the same model."""
    if isinstance(model, Endpoint):
        fingerprint = {"model_fingerprint": model.fingerprint} if model.fingerprint else {}
        return {"model": model.served_model, **fingerprint, "endpoint_api": model.api}
    parameters = [p for p in model.parameters() if p.is_floating_point()] or list(model.parameters())
    dtype = str(parameters[0].dtype).removeprefix("torch.") if parameters else "none"
    device = parameters[0].device.type if parameters else "cpu"
    return {**identify(name), "dtype": dtype, "quantize": "int8" if is_quantized(model) else "none", "device": device}
