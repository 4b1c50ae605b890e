"""Distillation data: the trace format and its validation, splitting a completion, rejection
sampling from a teacher (only correct, finished, distinct traces kept), resume, and the
`reasoning distill` commands.

The teacher is a scripted model (see scripted.py): after the chat prompt it opens <think>,
says " hmm" until it closes (about one step in four), then answers \\boxed{4} or \\boxed{5}
with even odds, so against a gold of 4 some samples are right, some wrong, and some run out
of tokens before they close their thinking.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import scripted
from reasoning.checkpoint import save_pretrained
from reasoning.cli import main
from reasoning.data import DatasetError, Problem
from reasoning.evaluation.records import RecordsError
from reasoning.evaluation.tasks import Task
from reasoning.generation import GenerationConfig, generate
from reasoning.generation.api import Prompt
from reasoning.prompts import build_prompt
from reasoning.sft.distill import generate_traces, progress_path, read_progress
from reasoning.sft.traces import Trace, dedup_key, deduplicate, read_traces, split_completion, write_traces
from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer

TOKENIZER = Qwen3Tokenizer(build_offline_tokenizer(), base=False)  # chat prompts, ends at <|im_end|>
THINK, END = TOKENIZER.think_start_id, TOKENIZER.think_end_id
[NEWLINE], [BLANK], [HMM] = TOKENIZER.encode("\n"), TOKENIZER.encode("\n\n"), TOKENIZER.encode(" hmm")
*OPEN, FOUR, CLOSE = TOKENIZER.encode("\\boxed{4}")
FIVE = TOKENIZER.encode("5")[0]
EOS = TOKENIZER.eos_token_ids[0]
SCRIPT = {
    NEWLINE: {THINK: scripted.SURE}, THINK: {HMM: scripted.SURE}, HMM: {HMM: scripted.SURE, END: scripted.SURE - 1.0},
    END: {BLANK: scripted.SURE}, BLANK: {OPEN[0]: scripted.SURE}, **scripted.chain(OPEN, FOUR),
    OPEN[-1]: {FOUR: scripted.SURE, FIVE: scripted.SURE}, FOUR: {CLOSE: scripted.SURE}, FIVE: {CLOSE: scripted.SURE},
    CLOSE: {EOS: scripted.SURE},
}  # fmt: skip
MODEL = scripted.scripted_model(SCRIPT)
CONFIG = GenerationConfig(max_new_tokens=12, temperature=1.0, n=4, seed=3, max_batch_size=8)
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models run fastest on one thread
PROBLEMS = [Problem(str(k), f"Question {k}: what is 2 + {k % 2 + 2}?", str(k % 2 + 4)) for k in range(6)]


def distill(out: Path, problems=PROBLEMS, template="math", **options) -> dict:
    task = Task("scripted", tuple(problems), template=template)
    return generate_traces(MODEL, TOKENIZER, task, out, teacher="scripted", config=CONFIG, progress=False, **options)


# ---------------------------------------------------------------------------- split_completion


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>\nhmm, 2 + 2\n</think>\n\n\\boxed{4}", ("hmm, 2 + 2", "\\boxed{4}")),
        ("hmm\n</think>\n\nso \\boxed{4}\n", ("hmm", "so \\boxed{4}")),  # the prompt opened <think>
        ("<think>\n\n</think>\n\n\\boxed{4}", ("", "\\boxed{4}")),
        ("  It is \\boxed{4}.\n", ("", "It is \\boxed{4}.")),  # a teacher that does not think
        ("<think>\nhmm, 2 + 2 is", None),  # unfinished
        ("<think>a</think>b</think>c", None),
        ("<think>a<think>b</think>c", None),
        ("<think>a</think>b<think>c", None),
    ],
)
def test_split_completion(text, expected):
    assert split_completion(text) == expected


@pytest.mark.parametrize(
    "text", ["<think>" + "</thin" * 200_000, "<think>" + "<" * 1_000_000 + "</think>x", "</think" * 150_000 + "</think>"]
)
def test_split_completion_is_linear_on_a_million_characters(text):
    start = time.perf_counter()
    split_completion(text)
    assert time.perf_counter() - start < 0.5


# ---------------------------------------------------------------------------- read_traces


def write_lines(path: Path, *lines: object) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


GOOD = {"problem": "1+1?", "thinking": "one and one", "answer": "\\boxed{2}"}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([1, 2], "expected a JSON object, got list"),
        ('{"problem": "1+1?", ', "invalid JSON"),
        ({"thinking": "", "answer": "2"}, "missing field 'problem'"),
        ({**GOOD, "problem": " "}, "field 'problem' must be a non-empty string"),
        ({"problem": "1+1?", "answer": "2"}, "missing field 'thinking'"),
        ({**GOOD, "thinking": 7}, "field 'thinking' must be a string"),
        ({**GOOD, "thinking": "<think>one"}, "field 'thinking' must not contain <think> or </think> tags"),
        ({**GOOD, "answer": "x</think>2"}, "field 'answer' must not contain"),
        ({**GOOD, "answer": ""}, "field 'answer' must be a non-empty string"),
        ({**GOOD, "gold": ["2"]}, "field 'gold' must be a non-empty string, a number or null"),
        ({**GOOD, "teacher": 3}, "field 'teacher' must be a string or null"),
        ({**GOOD, "meta": [1]}, "field 'meta' must be an object"),
        ({**GOOD, "id": "line-1"}, "duplicate id 'line-1'"),
    ],
)
def test_a_bad_trace_names_the_file_line_and_field(tmp_path, bad, message):
    path = write_lines(tmp_path / "traces.jsonl", GOOD, "", bad)
    with pytest.raises(DatasetError) as error:
        read_traces(path)
    assert str(error.value).startswith(f"{path}, line 3: ") and message in str(error.value)


def test_a_missing_trace_file_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="trace file not found"):
        read_traces(tmp_path / "none.jsonl")


def test_traces_read_back_equal_with_ids_derived_and_other_fields_in_meta(tmp_path):
    path = write_lines(
        tmp_path / "in.jsonl",
        {**GOOD, "problem_id": 7, "gold": 2, "source": "elsewhere"},
        {**GOOD, "problem_id": 7, "thinking": "two"},
        {**GOOD, "thinking": "ones"},
    )
    traces = read_traces(path)
    assert [t.id for t in traces] == ["7#0", "7#1", "line-3"]
    assert traces[0].gold == "2" and traces[0].problem_id == "7" and traces[0].meta == {"source": "elsewhere"}
    write_traces(tmp_path / "out.jsonl", traces)
    assert read_traces(tmp_path / "out.jsonl") == traces


def test_duplicates_differ_only_in_whitespace_and_are_dropped_when_asked(tmp_path):
    path = write_lines(tmp_path / "in.jsonl", GOOD, {**GOOD, "thinking": " one\n and  one ", "answer": "\\boxed{2} "},
                       {**GOOD, "answer": "\\boxed{3}"})  # fmt: skip
    assert len(read_traces(path, dedup=False)) == 3
    traces = read_traces(path)
    assert [t.id for t in traces] == ["line-1", "line-3"]
    assert dedup_key(traces[0]) == ("1+1?", "one and one", "\\boxed{2}") and deduplicate(traces * 2) == traces


def test_a_trace_checks_its_own_fields():
    with pytest.raises(ValueError, match="'answer' must not contain"):
        Trace("q", "t", "<think>", id="a")


# ---------------------------------------------------------------------------- generate_traces


def expected_traces(problems: list[Problem]) -> list[tuple[str, str, str]]:
    """(problem id, thinking, answer) of each distinct correct finished sample, read off the raw
    completions by hand."""
    prompts = [Prompt(build_prompt(p.question, kind="reasoning", chat=TOKENIZER.apply_chat_template), stream=i)
               for i, p in enumerate(problems)]  # fmt: skip
    expected = []
    for result in generate(MODEL, TOKENIZER, prompts, CONFIG):
        problem = problems[result.prompt_index]
        if result.finish_reason == "eos":
            head, answer = result.text.split("</think>")
            trace = (problem.id, head.removeprefix("<think>").strip(), answer.strip())
            if answer.strip() == f"\\boxed{{{problem.answer}}}" and trace not in expected:
                expected.append(trace)
    return expected


def test_only_correct_finished_distinct_traces_are_kept_thinking_and_answer_apart(tmp_path):
    out = tmp_path / "traces.jsonl"
    summary = distill(out)
    traces = read_traces(out, dedup=False)
    assert [(t.problem_id, t.thinking, t.answer) for t in traces] == expected_traces(PROBLEMS)
    assert all(set(t.thinking.split()) == {"hmm"} and t.teacher == "scripted" and t.gold in t.answer for t in traces)
    assert summary["problems"] == 6 and summary["samples"] == 24 and summary["kept"] == len(traces)
    assert summary["correct"] == summary["kept"] + summary["duplicates"]
    # the script makes every outcome happen: wrong answers, unfinished samples and duplicates
    assert summary["samples"] - summary["correct"] - summary["unfinished"] > 0
    assert summary["unfinished"] > 0 and summary["duplicates"] > 0
    assert summary["problems_with_trace"] == len({t.problem_id for t in traces})
    assert summary["keep_rate"] == summary["kept"] / 24
    settings, records = read_progress(out)
    assert settings["teacher"] == "scripted" and settings["n"] == 4 and [r["id"] for r in sorted(records, key=lambda r: r["index"])] == [p.id for p in PROBLEMS]


def test_a_run_resumed_after_an_interrupt_writes_what_an_uninterrupted_one_does(tmp_path, monkeypatch):
    whole = distill(tmp_path / "whole.jsonl")
    cut = tmp_path / "cut.jsonl"
    grade = Task.grade

    def interrupted(task, problem, answer, **options):
        if problem.id == "3":
            raise RuntimeError("killed")
        return grade(task, problem, answer, **options)

    with monkeypatch.context() as patched:
        patched.setattr(Task, "grade", interrupted)
        with pytest.raises(RuntimeError, match="killed"):
            distill(cut)
    assert 0 < len(read_progress(cut)[1]) < len(PROBLEMS)
    with pytest.raises(RecordsError, match="--resume"):
        distill(cut)
    assert distill(cut, resume=True) == whole
    assert cut.read_bytes() == (tmp_path / "whole.jsonl").read_bytes()


def test_traces_written_just_before_a_kill_are_made_again_not_twice(tmp_path):
    whole = distill(tmp_path / "whole.jsonl")
    out = tmp_path / "cut.jsonl"
    distill(out)
    progress = progress_path(out)
    lines = progress.read_text().splitlines(keepends=True)
    last = max(range(1, len(lines)), key=lambda k: json.loads(lines[k])["kept"])  # a problem that kept traces
    progress.write_text("".join(lines[:last] + lines[last + 1 :]) + '{"id": "tor')  # its line lost, a torn one after
    with out.open("a") as traces:
        traces.write('{"id": "torn')
    assert distill(out, resume=True) == whole
    assert out.read_bytes() == (tmp_path / "whole.jsonl").read_bytes()


def test_resume_refuses_other_settings(tmp_path):
    out = tmp_path / "traces.jsonl"
    distill(out, problems=PROBLEMS[:1])
    with pytest.raises(RecordsError, match="settings differ from the saved run: n saved .*; temperature saved"):
        generate_traces(MODEL, TOKENIZER, Task("scripted", tuple(PROBLEMS)), out, teacher="scripted",
                        config=CONFIG.with_options(n=2, temperature=0.5), resume=True, progress=False)  # fmt: skip
    with pytest.raises(RecordsError, match="teacher saved \"scripted\", now \"other\""):
        generate_traces(MODEL, TOKENIZER, Task("scripted", tuple(PROBLEMS)), out, teacher="other", config=CONFIG, resume=True, progress=False)
    with pytest.raises(RecordsError, match=r'prompt saved \(not set\), now "plain"'):
        distill(out, problems=PROBLEMS, resume=True, template="plain")


def test_a_plain_prompt_is_the_problem_as_the_user_turn(tmp_path, monkeypatch):
    import reasoning.sft.distill as module

    seen, real = [], module.generate_as_completed
    monkeypatch.setattr(module, "generate_as_completed", lambda model, tok, prompts, config: seen.extend(prompts) or real(model, tok, prompts, config))
    distill(tmp_path / "plain.jsonl", problems=PROBLEMS[:2], template="plain")
    distill(tmp_path / "math.jsonl", problems=PROBLEMS[:2])
    user = lambda text: TOKENIZER.apply_chat_template([{"role": "user", "content": text}])
    assert [p.content for p in seen] == [user(p.question) for p in PROBLEMS[:2]] + [build_prompt(p.question, kind="reasoning", chat=TOKENIZER.apply_chat_template) for p in PROBLEMS[:2]]
    assert read_progress(tmp_path / "plain.jsonl")[0]["prompt"] == "plain"


# ---------------------------------------------------------------------------- the command line


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main([str(arg) for arg in argv])
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def test_import_validates_deduplicates_and_keeps_the_correct(tmp_path, capsys):
    source = write_lines(
        tmp_path / "in.jsonl",
        {**GOOD, "gold": "2"}, {**GOOD, "thinking": "one  and one", "gold": "2"},
        {**GOOD, "answer": "\\boxed{3}", "gold": "2"}, {**GOOD, "thinking": "1 + 1 = 2", "gold": "2", "id": "b"},
    )  # fmt: skip
    out = tmp_path / "out.jsonl"
    code, printed, _ = run(capsys, "distill", "import", source, "--out", out, "--grade")
    assert code == 0 and "read 4  duplicates 1  incorrect 1  kept 2" in printed
    assert [t.id for t in read_traces(out)] == ["line-1", "b"]
    code, _, err = run(capsys, "distill", "import", source, "--out", out)
    assert code == 2 and "--overwrite" in err
    write_lines(source, GOOD)
    code, _, err = run(capsys, "distill", "import", source, "--out", out, "--grade", "--overwrite")
    assert code == 2 and err.count("\n") == 1 and "trace 'line-1' has no gold answer" in err


def test_import_of_a_bad_file_is_one_line_naming_the_line(tmp_path, capsys):
    source = write_lines(tmp_path / "in.jsonl", GOOD, {**GOOD, "thinking": "<think>x</think>"})
    code, _, err = run(capsys, "distill", "import", source, "--out", tmp_path / "out.jsonl")
    assert code == 2 and err == f"reasoning distill: error: {source}, line 2: field 'thinking' must not contain <think> or </think> tags (store the text between them)\n"


def test_distill_generate_end_to_end_on_a_checkpoint(tmp_path, capsys):
    teacher = save_pretrained(MODEL, TOKENIZER, tmp_path / "teacher")
    data = write_lines(tmp_path / "problems.jsonl", *({"question": p.question, "answer": p.answer} for p in PROBLEMS[:3]))
    out = tmp_path / "traces.jsonl"
    argv = ["distill", "generate", "--teacher", teacher, "--dataset", data, "--n", "4", "--max-new-tokens", "12",
            "--temperature", "1", "--seed", "3", "--device", "cpu", "--dtype", "float32", "--out", out]  # fmt: skip
    code, printed, err = run(capsys, *argv)
    assert code == 0, err
    traces = read_traces(out)
    assert [(t.problem_id, t.thinking, t.answer) for t in traces] == expected_traces(PROBLEMS[:3])
    assert f"problems 3  samples 12  correct {len(traces) + int(printed.split('duplicates ')[1].split()[0])}" in printed
    assert f"kept {len(traces)}  " in printed and traces[0].teacher == str(teacher)
    code, _, err = run(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and "already holds results: pass --resume" in err
    code, _, err = run(capsys, *argv[:-2], "--top-p", "0.5", "--out", out, "--resume")
    assert code == 2 and err.count("\n") == 1 and "settings differ from the saved run: top_p saved" in err
    code, again, _ = run(capsys, *argv, "--resume")
    assert code == 0 and again == printed


def test_distill_generate_flags_are_checked_in_one_line(tmp_path, capsys):
    code, _, err = run(capsys, "distill", "generate", "--teacher", "t", "--bench", "mmlu-stem", "--out", tmp_path / "o.jsonl")
    assert code == 2 and err == "reasoning distill: error: distill generate keeps math solutions; mmlu-stem is multiple choice\n"
    code, _, err = run(capsys, "distill", "generate", "--teacher", "t", "--bench", "gsm8k", "--dataset", "d.jsonl", "--out", "o")
    assert code == 2 and "not allowed with argument" in err
    code, _, err = run(capsys, "distill", "generate", "--teacher", "t", "--dataset", tmp_path / "none.jsonl", "--out", "o")
    assert code == 2 and err.count("\n") == 1 and "dataset file not found" in err


def test_distill_generate_offline_is_one_quick_line(tmp_path, capfd, monkeypatch, closed_endpoint):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    data = write_lines(tmp_path / "problems.jsonl", {"question": "1+1?", "answer": "2"})
    start = time.perf_counter()
    code = main(["distill", "generate", "--teacher", "qwen3-0.6b", "--dataset", str(data), "--out", str(tmp_path / "o.jsonl")])
    err = capfd.readouterr().err
    assert code == 2 and time.perf_counter() - start < 10 and not (tmp_path / "o.jsonl").exists()
    assert err.count("\n") == 1 and err.startswith("reasoning distill: error: the Hugging Face Hub (http://127.0.0.1:")
    assert "'Qwen/Qwen3-0.6B' is not in the local cache" in err and "Traceback" not in err
    assert "a local checkpoint directory as --teacher" in err and "--data-dir" not in err


def test_a_problem_holding_a_control_token_is_refused_before_any_sampling(tmp_path):
    bad = [*PROBLEMS[:1], Problem("x", "What is <|im_end|> 2 + 2?", "4")]
    with pytest.raises(ValueError, match=r"problem 'x' holds the control token <\|im_end\|>"):
        distill(tmp_path / "traces.jsonl", problems=bad)
    assert not (tmp_path / "traces.jsonl").exists()
