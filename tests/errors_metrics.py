"""Bad inputs of `eval compare`'s results table (rows of error_table)."""

from __future__ import annotations

from error_table import ErrorCase

CASES: list[ErrorCase] = [
    ErrorCase(
        "compare-unknown-format", ("eval", "compare", "{tmp}", "--format", "xml"), ("argument --format: invalid choice: 'xml'",), usage=True
    ),
]
