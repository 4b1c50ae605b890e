"""The report in a real browser: headless Chromium loads a small run's page and the test reads
the DOM it rendered: one row per problem, the wrong-only filter, a problem's samples, hostile
traces shown as text that runs nothing and loads nothing; a screenshot; and the load time and
size of a 500-problem x 16-sample report."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import free_port
from view_records import HOSTILE, record, sample, small_run, write_records, write_training_samples

from reasoning.view.data import view_data
from reasoning.view.html import report_html
from reasoning.view.training import page_data

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not found (Debian: apt-get install chromium; .ci/run installs it)"
)


class Dom(HTMLParser):
    """What the tests read from a dumped DOM: problem rows, <pre> texts, tags counted, the title, body attributes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows, self.pres, self.tags, self.title, self.body = [], [], {}, "", {}
        self.elements: list[tuple[str, dict]] = []  # every start tag with its attributes, in order
        self._in = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.elements.append((tag, attrs))
        if tag == "tr" and "problem" in (attrs.get("class") or "").split():
            self.rows.append(attrs["data-id"])
        if tag == "body":
            self.body = attrs
        if tag == "pre" or (tag == "title" and self.tags.get("body") is None):  # the document's title, not an SVG tooltip
            self._in = tag
            if tag == "pre":
                self.pres.append("")

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "pre":
            self.pres[-1] += data
        elif self._in == "title":
            self.title += data


def chromium(page: Path, fragment: str, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp / 'profile'}",
               "--virtual-time-budget=5000", *extra, page.as_uri() + fragment]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def rendered(page: Path, fragment: str, tmp: Path) -> Dom:
    return Dom(chromium(page, fragment, tmp, "--dump-dom").stdout)


@pytest.fixture
def leak_server():
    """A local HTTP server that records every request it gets (a hostile <img> points at it)."""
    requests = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], requests
    server.shutdown()
    server.server_close()


@pytest.fixture
def small_report(tmp_path, leak_server):
    port, requests = leak_server
    records = small_run()
    leak = f'<img src="http://127.0.0.1:{port}/leak">'
    records[1]["samples"][1]["text"] = f"<think>{HOSTILE}{leak}</think>{leak}\\boxed{{3}}"
    run = write_records(tmp_path / "math500.jsonl", records)
    page = tmp_path / "report.html"
    page.write_text(report_html(view_data([run]), title="small run"))
    return page, records, requests


def test_the_page_shows_one_row_per_record(small_report, tmp_path):
    page, records, _ = small_report
    dom = rendered(page, "", tmp_path)
    assert dom.rows == [r["id"] for r in records]
    assert dom.title == "small run"


def test_wrong_only_shows_exactly_the_wrong_problems(small_report, tmp_path):
    page, records, _ = small_report
    dom = rendered(page, "#filter=wrong", tmp_path)
    assert dom.rows == [r["id"] for r in records if any(not s["correct"] for s in r["samples"])] == ["p1", "p2"]


def test_a_problem_page_shows_its_samples_and_hostile_text_as_text(small_report, tmp_path):
    page, records, requests = small_report
    dom = rendered(page, "#problem=p1", tmp_path)
    assert dom.rows == []
    question, *texts = dom.pres
    assert question == records[1]["question"]
    thinking, answer = texts[2], texts[3]  # sample 1: its thinking, then its answer
    assert thinking.startswith(HOSTILE) and answer.endswith("\\boxed{3}") and "<img src=" in answer
    assert dom.tags.get("script") == 2 and "img" not in dom.tags  # nothing the traces hold became an element
    assert "data-pwned" not in dom.body and dom.title == "small run"
    assert requests == []


def test_hostile_problem_runs_nothing_with_its_thinking_open(small_report, tmp_path):
    page, _, requests = small_report
    dom = rendered(page, "#problem=p3", tmp_path)
    assert sum(HOSTILE in text for text in dom.pres) == 4  # two samples, thinking and answer each
    assert "data-pwned" not in dom.body and dom.title == "small run" and requests == []


def classed(dom: Dom, tag: str, name: str) -> list[dict]:
    """The attributes of each `tag` element whose class list holds `name`."""
    return [attrs for t, attrs in dom.elements if t == tag and name in (attrs.get("class") or "").split()]


def test_the_overview_shows_subjects_levels_and_a_length_histogram(small_report, tmp_path):
    page, records, _ = small_report
    dom = rendered(page, "", tmp_path)
    assert len(classed(dom, "table", "by-subject")) == len(classed(dom, "table", "by-level")) == 1
    assert len(classed(dom, "tr", "group")) == len({r["subject"] for r in records}) + len({r["level"] for r in records})
    assert [attrs["data-series"] for attrs in classed(dom, "g", "series")] == ["correct", "wrong"]
    assert dom.tags["rect"] == 2 * 20 and len(classed(dom, "svg", "histogram")) == 1


def test_a_budget_sweep_shows_accuracy_against_budget(tmp_path):
    for budget in (64, 512, 4096):
        write_records(tmp_path / f"math500@{budget}.jsonl", small_run(), task=f"math500@{budget}")
    page = tmp_path / "report.html"
    page.write_text(report_html(view_data([tmp_path])))
    dom = rendered(page, "", tmp_path)
    assert len(classed(dom, "table", "budgets")) == 1 and len(classed(dom, "tr", "budget")) == 3


def test_several_runs_show_the_paired_difference_at_the_top(tmp_path):
    before = write_records(tmp_path / "before.jsonl", small_run())
    after = write_records(tmp_path / "after.jsonl", [record(i, [sample("x", "2", True)] * 2, [0, 0]) for i in range(3)])
    page = tmp_path / "report.html"
    page.write_text(report_html(view_data([before, after])))
    dom = rendered(page, "", tmp_path)
    assert len(classed(dom, "tr", "pair")) == 1
    tables = [attrs.get("id") or attrs.get("class") for tag, attrs in dom.elements if tag == "table"]
    assert tables[0] == "paired" and "overview" in tables  # the difference comes first, above the summaries
    assert dom.rows == ["p0", "p1", "p2", "p3"]


def test_a_training_samples_log_shows_a_row_per_sample_with_its_text(tmp_path):
    write_training_samples(tmp_path / "grpo")
    page = tmp_path / "report.html"
    page.write_text(report_html(page_data([tmp_path / "grpo"])))
    dom = rendered(page, "", tmp_path)
    assert len(classed(dom, "tr", "training-sample")) == 4 and dom.rows == []
    assert dom.pres == [f"<think>try {step}</think>{HOSTILE}" for step in (1, 1, 2, 2)]
    assert "img" not in dom.tags and "data-pwned" not in dom.body


def test_a_problem_page_marks_the_answer_read_and_the_forced_closing(tmp_path):
    from reasoning.generation.thinking import DEFAULT_CLOSING

    forced = sample(f"<think>Let x be 3.{DEFAULT_CLOSING}So 2 or 3: \\boxed{{3}}", "3", False, finish_reason="stop")
    run = write_records(tmp_path / "math500.jsonl", [record(0, [forced, sample("<think>x</think>\\boxed{2}", "2", True)], [0, 1])])
    page = tmp_path / "report.html"
    page.write_text(report_html(view_data([run])))
    dom = Marks(chromium(page, "#problem=p0", tmp_path, "--dump-dom").stdout)
    assert dom.marks == [("forced", DEFAULT_CLOSING.split("</think>")[0].strip()), ("read", "3"), ("read", "2")]
    assert "\n\nSo 2 or 3: \\boxed{3}" in dom.pres  # the marked answer still reads whole


class Marks(Dom):
    """A Dom that also keeps each <mark>'s class and text."""

    def __init__(self, html: str) -> None:
        self.marks: list[tuple[str, str]] = []
        self._in_mark = False
        super().__init__(html)

    def handle_starttag(self, tag, attrs):
        if tag == "mark":
            self.marks.append((dict(attrs).get("class"), ""))
            self._in_mark = True
        super().handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        self._in_mark = self._in_mark and tag != "mark"
        super().handle_endtag(tag)

    def handle_data(self, data):
        if self._in_mark:
            self.marks[-1] = (self.marks[-1][0], self.marks[-1][1] + data)
        super().handle_data(data)


def test_a_screenshot_is_written(small_report, tmp_path):
    page, _, _ = small_report
    shot = tmp_path / "report.png"
    chromium(page, "#filter=wrong", tmp_path, f"--screenshot={shot}", "--window-size=1200,900")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_500_by_16_report_loads_and_filters_in_the_browser(tmp_path):
    thinking = "Let me think about this step by step. " * 60  # about 2,300 characters
    records = [
        record(i, [sample(f"<think>{thinking}{j}</think>So \\boxed{{{i % 3 + j % 2}}}", str(i % 3 + j % 2), (i % 3 + j % 2) == 2,
                          tokens=600 + j, finish_reason="length" if j == 15 and i % 7 == 0 else "stop") for j in range(16)],
               [j % 2 for j in range(16)])
        for i in range(500)
    ]  # fmt: skip
    run = write_records(tmp_path / "math500.jsonl", records)
    page = tmp_path / "report.html"
    page.write_text(report_html(view_data([run])))
    size = page.stat().st_size
    start = time.perf_counter()
    dom = rendered(page, "", tmp_path)
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    wrong = rendered(page, "#filter=wrong,truncated", tmp_path)
    filtered = time.perf_counter() - start
    print(
        f"500 x 16 report: {size / 1e6:.2f} MB; chromium loaded it in {loaded:.2f} s, filtered in {filtered:.2f} s (process start included)"
    )
    assert len(dom.rows) == 500
    assert len(wrong.rows) == len([i for i in range(500) if i % 7 == 0])
    assert size < 8_000_000
