"""Bad presence and frequency penalties (rows of error_table): the parser refuses them in the
flag's own words, before any model loads. OpenAI's range is [-2, 2]."""

from __future__ import annotations

from error_table import ErrorCase

GENERATE = ("generate", "--model", "m", "--prompt", "x")

CASES = [
    ErrorCase("generate-presence-penalty-above-2", (*GENERATE, "--presence-penalty", "2.5"),
              ("reasoning generate: error:", "argument --presence-penalty: must be in [-2, 2], got 2.5"), usage=True),
    ErrorCase("generate-frequency-penalty-nan", (*GENERATE, "--frequency-penalty", "nan"),
              ("reasoning generate: error:", "argument --frequency-penalty: must be in [-2, 2], got nan"), usage=True),
    ErrorCase("generate-presence-penalty-not-a-number", (*GENERATE, "--presence-penalty", "lots"),
              ("reasoning generate: error:", "argument --presence-penalty: must be a number, got 'lots'"), usage=True),
    ErrorCase("chat-frequency-penalty-below-minus-2", ("chat", "--model", "m", "--frequency-penalty", "-3"),
              ("reasoning chat: error:", "argument --frequency-penalty: must be in [-2, 2], got -3"), usage=True),
]  # fmt: skip
