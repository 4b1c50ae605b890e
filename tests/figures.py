"""The README's measured figures, read back so tests can re-run the cheap ones and compare.

Float rounding depends on the CPU kernels torch picks (AVX512, AVX2, ...), and a few hundred
training steps turn a last-bit difference into another answer on a held-out sum. So a figure
is compared exactly where torch runs the kernels the README names beside its offline figures,
and otherwise only checked for the properties the README claims (the reward rises, the student
improves), with the reason in the test report.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_text() -> str:
    """The README with each run of whitespace as one space (figures wrap across lines)."""
    return " ".join(README.read_text().split())


def readme_figures(pattern: str) -> tuple[int | float | str, ...]:
    """What `pattern`'s groups capture in the README, numbers as numbers; fails naming the
    pattern if the wording changed."""
    match = re.search(pattern, readme_text())
    assert match, f"the README no longer says {pattern!r}: update the pattern with the wording"
    return tuple(_value(group) for group in match.groups())


def _value(text: str) -> int | float | str:
    if re.fullmatch(r"\d+", text):
        return int(text)
    return float(text) if re.fullmatch(r"\d+\.\d+", text) else text


def same_machine_as_the_readme() -> str | None:
    """None where torch runs the CPU kernels the README's figures were measured with, on the CPU
    it names (the toy runs set one thread themselves); otherwise why an exact comparison would
    be meaningless here."""
    kernels, cpu = readme_figures(r"measured with torch's (\w+) CPU kernels on an? ([\w ]+?) CPU")
    here = (torch.backends.cpu.get_cpu_capability(), cpu_name())
    if here != (kernels, cpu):
        return f"the README's figures come from torch's {kernels} kernels on {cpu}, this machine runs {here[0]} on {here[1]}"
    return None


def cpu_name() -> str:
    """The CPU's model name as Linux reports it ("AMD EPYC"), or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "an unknown CPU"
