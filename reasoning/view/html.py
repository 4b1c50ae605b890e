"""A run's report as one self-contained HTML file: the data embedded as JSON that no trace can
break out of, the page's style and script inline (see `page.py`)."""

from __future__ import annotations

import json
from typing import Any

from reasoning.view.page import SCRIPT, STYLE

# Characters that could end the <script> block or confuse an HTML or JavaScript parser, as JSON escapes.
# Nothing loads from anywhere (a hostile trace that escaped its text would still fetch nothing).
_POLICY = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def embedded_json(data: Any) -> str:
    """`data` as JSON safe inside a <script> element: a trace holding `</script>` or `<!--`
    stays a string (the escaped characters only ever occur inside JSON strings)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.translate(str.maketrans(_ESCAPES))


def report_html(data: dict[str, Any], title: str = "reasoning view") -> str:
    """The whole page: the viewer's data (`data.view_data`) rendered by its inline script."""
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">'
        f'<title>{safe_title}</title><style>{STYLE}</style></head>\n<body><div id="main"></div>\n'
        f'<script type="application/json" id="view-data">{embedded_json(data)}</script>\n'
        f"<script>{SCRIPT}</script>\n</body></html>\n"
    )
