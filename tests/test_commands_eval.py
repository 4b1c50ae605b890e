"""`reasoning eval run`, `eval score` and `eval compare` end to end on a tiny random checkpoint:
a kill and a resume equal to an uninterrupted run, a strategy's resumed samples, letter
likelihoods, two ranks as torchrun starts them, and the former `eval math500` refused in one line."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MATH500_FILE, free_port
from reasoning.checkpoint import load_model, save_pretrained
from reasoning.cli import main
from reasoning.evaluation import run as evaluation_run
from reasoning.evaluation.records import read_run
from reasoning.evaluation.rundir import read_task
from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer

DATA = Path(__file__).parent / "data" / "benchmarks"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from conftest import make_hf_model, save_hf_checkpoint

    directory = save_hf_checkpoint(
        make_hf_model(tied=True, vocab_size=151_936, max_position_embeddings=1024), tmp_path_factory.mktemp("hf")
    )
    out = tmp_path_factory.mktemp("tiny") / "tiny-base"
    save_pretrained(load_model(directory), Qwen3Tokenizer(build_offline_tokenizer(), base=True), out)
    return out


def eval_run(checkpoint, out, *extra):
    # --batch-size 4 = n: each problem decodes alone in the same shapes in every run, so float
    # rounding cannot tip a near-tie of this random model's flat distributions between runs.
    return main([
        "eval", "run", "--bench", "gsm8k,mmlu-stem", "--model", str(checkpoint), "--data-dir", str(DATA), "--limit", "3",
        "--protocol", "r1", "--n", "4", "--max-new-tokens", "6", "--batch-size", "4", "--device", "cpu",
        "--out", str(out), *extra,
    ])  # fmt: skip


def math500(checkpoint, out, *extra):
    args = ["eval", "run", "--bench", "math500", "--model", str(checkpoint), "--data", str(MATH500_FILE), "--limit", "5",
            "--protocol", "greedy", "--max-new-tokens", "6", "--batch-size", "2", "--device", "cpu", "--out", str(out), *extra]  # fmt: skip
    return main(args)


def without_time(summary):
    """A summary without wall time, the one figure two equal runs may differ in."""
    if isinstance(summary, dict):
        return {k: without_time(v) for k, v in summary.items() if k != "seconds"}
    if isinstance(summary, list):
        return [without_time(v) for v in summary]
    return summary


def test_killed_mid_run_then_resumed_equals_an_uninterrupted_run(checkpoint, tmp_path, monkeypatch, capsys):
    assert eval_run(checkpoint, tmp_path / "whole") == 0
    table = capsys.readouterr().out
    assert "gsm8k" in table and "mmlu-stem" in table and "pass@k" in table and "maj@k" in table
    by_k = [line.split()[:2] for line in table.splitlines() if line.startswith("mmlu-stem ")][1:3]
    assert by_k == [["mmlu-stem", "2"], ["mmlu-stem", "4"]]
    whole = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert set(whole) == {"gsm8k", "mmlu-stem"}
    assert whole["gsm8k"]["problems"] == 3 and whole["gsm8k"]["samples"] == 4
    assert whole["gsm8k"]["settings"]["temperature"] == 0.6 and whole["gsm8k"]["settings"]["top_p"] == 0.95
    _, records = read_task(tmp_path / "whole", "gsm8k")
    assert all(len(r["samples"]) == 4 and 0 < s["tokens"] <= 6 for r in records for s in r["samples"])
    assert len({s["text"] for r in records for s in r["samples"]}) > 3  # sampled, not four copies of one

    from reasoning.evaluation import solvers

    real, yielded = solvers.generate_as_completed, []

    def killed_after_four(*args, **kwargs):  # all of gsm8k, then one problem of mmlu-stem
        for group in real(*args, **kwargs):
            if len(yielded) == 4:
                raise KeyboardInterrupt
            yielded.append(group)
            yield group

    monkeypatch.setattr(solvers, "generate_as_completed", killed_after_four)
    assert eval_run(checkpoint, tmp_path / "cut") == 130
    assert len(read_task(tmp_path / "cut", "mmlu-stem")[1]) == 1
    monkeypatch.setattr(solvers, "generate_as_completed", real)
    assert eval_run(checkpoint, tmp_path / "cut") == 2  # no --resume: refused
    assert eval_run(checkpoint, tmp_path / "cut", "--resume") == 0
    resumed = json.loads((tmp_path / "cut" / "summary.json").read_text())
    assert without_time(resumed) == without_time(whole)
    for bench in ("gsm8k", "mmlu-stem"):
        cut, full = read_task(tmp_path / "cut", bench)[1], read_task(tmp_path / "whole", bench)[1]
        assert [r["samples"] for r in cut] == [r["samples"] for r in full]

    capsys.readouterr()
    assert main(["eval", "score", str(tmp_path / "cut")]) == 0
    assert "gsm8k" in capsys.readouterr().out
    assert main(["eval", "compare", str(tmp_path / "whole"), str(tmp_path / "cut"), "--plot", str(tmp_path / "c.png")]) == 0
    compared = capsys.readouterr().out
    assert "A - B" in compared and "mmlu-stem" in compared and (tmp_path / "c.png").stat().st_size > 0


def test_math500_greedy_resumes_after_a_torn_line_and_refuses_other_settings(checkpoint, tmp_path, capsys):
    out = tmp_path / "run"
    assert math500(checkpoint, out) == 0
    path = out / "math500.jsonl"
    settings, complete = read_run(path)
    assert len(complete) == 5 and len({r["id"] for r in complete}) == 5
    assert all(0 < r["tokens"] <= 6 and r["prompt"].startswith("You are a helpful math assistant.") for r in complete)
    assert "pass@1" in capsys.readouterr().out and settings["preset"] == "greedy" and settings["temperature"] == 0.0

    lines = path.read_text().splitlines(keepends=True)  # a crash after two records, in the middle of writing the third
    path.write_text("".join(lines[:3]) + lines[3][:25])
    assert math500(checkpoint, out) == 2  # refuses to overwrite without --resume
    assert math500(checkpoint, out, "--resume") == 0
    resumed = read_run(path)[1]
    by_id = {r["id"]: r for r in complete}
    assert sorted(by_id) == sorted(r["id"] for r in resumed)
    assert all(without_time(r) == without_time(by_id[r["id"]]) for r in resumed)  # greedy: the redone problems agree

    assert math500(checkpoint, out, "--resume", "--temperature", "0.7") == 2  # other settings: refused
    assert read_run(path)[0]["temperature"] == 0.0


@pytest.mark.parametrize("strategy", [(), ("--strategy", "self-consistency")])
def test_a_resumed_sampling_run_draws_the_samples_of_an_uninterrupted_run(strategy, checkpoint, tmp_path):
    """Each problem's samples are keyed by its index in the benchmark, not by its place among
    the problems left; --batch-size 2 = n, so every run decodes in the same shapes."""
    sampled = (*strategy, "--n", "2", "--temperature", "1.0", "--seed", "5")
    assert math500(checkpoint, tmp_path / "whole", *sampled) == 0
    lines = (tmp_path / "whole" / "math500.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "math500.jsonl").write_text("".join(lines[0:1] + lines[3:5]))  # the header and two records from the middle
    assert math500(checkpoint, tmp_path / "cut", *sampled, "--resume") == 0
    whole, cut = (read_task(tmp_path / name, "math500")[1] for name in ("whole", "cut"))
    assert without_time(cut) == without_time(whole)


def test_score_regrades_a_run_directory(checkpoint, tmp_path, capsys):
    out = tmp_path / "run"
    assert eval_run(checkpoint, out, "--limit", "2") == 0
    path = out / "gsm8k.jsonl"
    lines = path.read_text().splitlines()
    first = json.loads(lines[1])
    first["samples"][0]["text"] = f"so the answer is \\boxed{{{first['gold']}}}"
    path.write_text("\n".join([lines[0], json.dumps(first), *lines[2:]]) + "\n")
    assert main(["eval", "score", str(out), "--write"]) == 0
    _, records = read_task(out, "gsm8k")
    assert records[0]["samples"][0]["correct"] is True and records[0]["correct"] >= 1
    assert json.loads((out / "summary.json").read_text())["gsm8k"]["pass@1"] > 0


def test_score_regrades_a_records_file(checkpoint, tmp_path, capsys):
    out = tmp_path / "run"
    math500(checkpoint, out)
    path = out / "math500.jsonl"
    settings, records = read_run(path)
    records[0]["samples"][0].update(text="so \\boxed{" + records[0]["gold"] + "}", correct=False)
    path.write_text("".join(json.dumps(line) + "\n" for line in [{"settings": settings}, *records]))
    capsys.readouterr()
    assert main(["eval", "score", str(path), "--write"]) == 0
    assert read_run(path)[1][0]["samples"][0]["correct"] is True
    assert "pass@1" in capsys.readouterr().out


def test_loglik_scoring_picks_the_likeliest_letter(checkpoint, tmp_path):
    out = tmp_path / "loglik"
    args = ["eval", "run", "--bench", "mmlu-stem", "--model", str(checkpoint), "--data-dir", str(DATA), "--limit", "3",
            "--scoring", "loglik", "--protocol", "greedy", "--device", "cpu", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    settings, records = read_task(out, "mmlu-stem")
    assert settings["scoring"] == "loglik" and settings["kind"] == "base"
    for r in records:
        [sample] = r["samples"]
        logprobs = sample["letter_logprobs"]
        assert sample["extracted"] == max(logprobs, key=logprobs.get)
        assert sample["correct"] == (sample["extracted"] == r["gold"])
        assert r["prompt"].rstrip().endswith("Answer:")
    assert main([*args[:3], "gsm8k", *args[4:-1], str(tmp_path / "x")]) == 2  # not multiple choice


def test_the_former_eval_math500_is_refused_in_one_line_naming_its_new_spelling(capsys):
    assert main(["eval", "math500", "--model", "qwen3-0.6b-base", "--out", "math500.jsonl"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "`eval math500` is now `reasoning eval run --bench math500 --out DIR`" in err


def test_the_grade_timeout_reaches_every_grade(checkpoint, tmp_path, monkeypatch):
    seen = set()
    real = evaluation_run.problem_record

    def spy(task, problem, index, prompt, attempt, grade_timeout, **options):
        seen.add(grade_timeout)
        return real(task, problem, index, prompt, attempt, grade_timeout, **options)

    monkeypatch.setattr(evaluation_run, "problem_record", spy)
    assert math500(checkpoint, tmp_path / "run", "--limit", "2", "--grade-timeout", "0.75") == 0
    assert seen == {0.75}


def test_two_ranks_split_the_problems_and_merge_one_summary(checkpoint, tmp_path):
    """Two processes as torchrun starts them: disjoint record files, one summary equal to a
    single process's (each problem's samples are keyed by its index, not by its rank)."""
    args = [sys.executable, "-m", "reasoning", "eval", "run", "--bench", "gsm8k", "--model", str(checkpoint),
            "--data-dir", str(DATA), "--limit", "3", "--protocol", "r1", "--n", "2", "--max-new-tokens", "4",
            "--batch-size", "2", "--device", "cpu"]  # fmt: skip
    # One thread and one problem per batch in both runs: the same kernels, so the same rounding.
    port = free_port()
    alone = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env = {**alone, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2"}
    ranks = [
        subprocess.Popen([*args, "--out", str(tmp_path / "two")], env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for r in (0, 1)
    ]  # fmt: skip
    outputs = [rank.communicate(timeout=300) for rank in ranks]
    assert [rank.returncode for rank in ranks] == [0, 0], outputs
    single = subprocess.run([*args, "--out", str(tmp_path / "one")], env=alone, capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr
    assert sorted(p.name for p in (tmp_path / "two").glob("*.jsonl")) == ["gsm8k.rank0.jsonl", "gsm8k.rank1.jsonl"]
    two = json.loads((tmp_path / "two" / "summary.json").read_text())
    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert without_time(two) == without_time(one)
    assert [r["samples"] for r in read_task(tmp_path / "two", "gsm8k")[1]] == [
        r["samples"] for r in read_task(tmp_path / "one", "gsm8k")[1]
    ]


def test_torchrun_takes_eval_run_after_a_double_dash(checkpoint, tmp_path):
    """torchrun reads every flag before the module's arguments as its own: `--n` is ambiguous to
    it (--nnodes, --nproc-per-node), so the README's form puts `--` before the command."""
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "1", "--master-port", str(free_port()), "-m", "reasoning"]
    command = ["eval", "run", "--bench", "math500", "--model", str(checkpoint), "--data", str(MATH500_FILE), "--limit", "1",
               "--n", "2", "--temperature", "1", "--max-new-tokens", "2", "--device", "cpu", "--out", str(tmp_path / "run")]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    ambiguous = subprocess.run([*torchrun, *command], env=env, capture_output=True, text=True, timeout=300)
    assert ambiguous.returncode != 0 and "ambiguous option: --n" in ambiguous.stderr
    done = subprocess.run([*torchrun, "--", *command], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(read_run(tmp_path / "run" / "math500.jsonl")[1][0]["samples"]) == 2
    assert "torchrun --nproc-per-node 8 -m reasoning -- eval run" in (ROOT / "README.md").read_text()


# ---------------------------------------------------------------------------- what a run's settings hold

# The options of `eval run` that change no result, each with the reason; every other option must
# change the saved settings when it changes (the list of options is read off the parser).
RESULT_FREE = {
    "bench": "names the records files; each file's header names its task",
    "data_dir": "where the problems are read from: a resumed problem's question and gold are checked against the record",
    "data": "as data_dir",
    "limit": "which problems, not how each is solved (problem i's samples come from stream i); the summary covers the problems asked for",
    "batch_size": "throughput: each sample's random stream is its own, so batching changes no token beyond float rounding",
    "compile": "throughput: the same computation, compiled",
    "device": "recorded as the device the model runs on (settings 'device'), not as the flag's spelling",
    "out": "where the records go",
    "resume": "continues the run; it checks the settings, and is none",
    "help": "prints the help",
    "served_model": "only with --model openai:URL, where the settings hold it (served_model)",
    "endpoint_api": "only with --model openai:URL, where the settings hold it (endpoint_api)",
    "api_key_env": "where the key is read from: access, not the samples",
    "concurrency": "throughput: requests in flight to an endpoint",
    "request_timeout": "how long a request may take; one that runs out fails, is recorded as failed, and --resume asks it again",
}
# Where an option only means something beside another, the other option given with it.
CONTEXT = {
    "rounds": ("--strategy", "self-refine"), "scorer": ("--strategy", "best-of-n", "--n", "2", "--temperature", "1"),
    "tie_break": ("--strategy", "self-consistency", "--n", "2", "--temperature", "1"),
    "early_stop": ("--strategy", "self-consistency", "--n", "2", "--temperature", "1"),
    "top_p": ("--temperature", "1"), "top_k": ("--temperature", "1"), "min_p": ("--temperature", "1"),
    "n": ("--temperature", "1"), "min_thinking": ("--thinking-budget", "8"), "thinking_closing": ("--thinking-budget", "8"),
    "wait": ("--thinking-budget", "8"), "no_thinking": ("--kind", "reasoning"),
    "scoring": ("--bench", "mmlu-stem", "--data", str(DATA / "mmlu_stem.jsonl")),
}  # fmt: skip


def _other_value(action) -> list[str]:
    """A flag with a value other than its default, valid for the tiny run."""
    flag = action.option_strings[-1]
    if action.dest == "grade_after_thinking":  # off by default for this base model: turn it on
        return ["--grade-after-thinking"]
    if action.nargs == 0:
        return [flag]
    special = {"kind": "reasoning", "thinking_closing": "\nTime.</think>\n", "grade_timeout": "3.5", "temperature": "1",
               "top_p": "0.5", "min_p": "0.1", "n": "2", "max_new_tokens": "3", "prompt": "qwen25-math", "protocol": "r1",
               "presence_penalty": "1.5", "frequency_penalty": "0.5", "shots": "2"}  # fmt: skip

    if action.dest in special:
        return [flag, special[action.dest]]
    if action.choices:
        return [flag, next(str(choice) for choice in action.choices if choice != action.default)]
    return [flag, "4"]


def _subparser(parser, *names: str):
    for name in names:
        parser = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices[name]
    return parser


@pytest.mark.parametrize("command", ["run", "budget"])
def test_every_option_that_changes_results_is_in_the_saved_settings(command, checkpoint, tmp_path, monkeypatch):
    from reasoning import tokenizer
    from reasoning.cli import build_parser
    from reasoning.evaluation import budget, summary
    from reasoning.evaluation import run as run_module

    saved = []

    def capture(task, prompts, solve, out_dir, *, settings, **kwargs):
        saved.append(settings)
        return []

    def no_summary(out_dir, *args, **kwargs):
        Path(out_dir).mkdir(exist_ok=True)
        (Path(out_dir) / "summary.json").write_text('{"math500": {}, "mmlu-stem": {}}')
        return {}

    for module in (run_module, budget):  # the settings, without grading or summaries
        monkeypatch.setattr(module, "evaluate_task", capture)
        monkeypatch.setattr(module, "write_summary", no_summary)
    monkeypatch.setattr(summary, "format_summaries", lambda summaries: "")
    monkeypatch.setattr(budget, "report_budget_curves", lambda *args, **kwargs: "")
    # Every run below loads the same checkpoint: parse its tokenizer.json (a third of a second,
    # only read from afterwards) once, not once per option.
    monkeypatch.setattr(tokenizer, "_load_tokenizer_json", functools.cache(tokenizer._load_tokenizer_json))
    options = {action.dest: action for action in _subparser(build_parser(), "eval", command)._actions if action.option_strings}
    free = RESULT_FREE | ({"plot": "draws the curve after the run"} if command == "budget" else {})
    assert set(free) - set(options) <= {"rounds", "scorer", "tie_break", "early_stop", "cot", "scoring", "kind", "no_thinking",
                                        "grade_timeout", "quantize", "compile"}, "a result-free option that no longer exists"  # fmt: skip
    base = ["eval", command, "--bench", "math500", "--model", str(checkpoint), "--data", str(MATH500_FILE), "--limit", "1",
            "--max-new-tokens", "2", "--device", "cpu", "--out", str(tmp_path / "run")]  # fmt: skip
    if command == "budget":
        base += ["--budgets", "1", "--n", "1", "--temperature", "0.5"]  # a reasoning sweep samples
    else:
        base += ["--protocol", "greedy"]  # zero-shot, so that --prompt, --cot and --kind apply

    @functools.cache
    def settings_with(*extra: str) -> dict:
        saved.clear()
        assert main([*base, *extra]) == 0
        return saved[0]

    missing = []
    for dest, action in sorted(options.items()):
        if dest in free or dest == "model":
            continue
        context = [] if command == "budget" and dest in ("n", "top_p", "top_k", "min_p") else list(CONTEXT.get(dest, ()))
        if settings_with(*context) == settings_with(*context, *_other_value(action)):
            missing.append(action.option_strings[-1])
    assert missing == [], f"options that change results but not the saved settings: {missing}"


def test_the_model_is_known_by_its_files_not_its_spelling(checkpoint, tmp_path, monkeypatch):
    import shutil

    run = tmp_path / "run"
    assert math500(checkpoint, run, "--limit", "2") == 0
    monkeypatch.chdir(checkpoint.parent)  # the same checkpoint, relative, with a trailing slash
    assert math500(Path(checkpoint.name + "/"), run, "--limit", "3", "--resume") == 0
    assert len(read_run(run / "math500.jsonl")[1]) == 3

    other = tmp_path / "other"  # other weights at the path the run was made with
    shutil.copytree(checkpoint, other)
    settings = read_run(run / "math500.jsonl")[0]
    assert settings["model"] == str(checkpoint.resolve()) and len(settings["model_fingerprint"]) == 16
    from conftest import make_hf_model, save_hf_checkpoint

    save_hf_checkpoint(make_hf_model(tied=False, vocab_size=151_936, max_position_embeddings=1024), other)
    moved = tmp_path / "moved"
    shutil.move(checkpoint, moved)
    try:
        shutil.move(other, checkpoint)
        assert math500(checkpoint, run, "--limit", "4", "--resume") == 2
    finally:
        shutil.rmtree(checkpoint)
        shutil.move(moved, checkpoint)


def test_int8_weights_do_not_resume_a_bf16_run(checkpoint, tmp_path, capsys):
    run = tmp_path / "run"
    assert math500(checkpoint, run, "--limit", "1") == 0
    capsys.readouterr()
    assert math500(checkpoint, run, "--limit", "2", "--resume", "--quantize", "int8") == 2
    assert 'quantize saved "none", now "int8"' in capsys.readouterr().err


def test_a_resume_with_a_smaller_limit_summarises_the_problems_asked_for(checkpoint, tmp_path, capsys):
    run = tmp_path / "run"
    assert math500(checkpoint, run, "--limit", "4") == 0
    assert math500(checkpoint, run, "--limit", "2", "--resume") == 0
    assert "resuming math500: 2 of 2 problems done" in capsys.readouterr().err
    summary = json.loads((run / "summary.json").read_text())["math500"]
    assert summary["problems"] == 2 and len(read_run(run / "math500.jsonl")[1]) == 4


def test_the_summary_names_the_effective_sampling_and_its_preset(checkpoint, tmp_path):
    run = tmp_path / "run"
    assert math500(checkpoint, run, "--limit", "1", "--n", "4", "--temperature", "1") == 0
    settings = json.loads((run / "summary.json").read_text())["math500"]["settings"]
    assert settings["protocol"] == "greedy, n 4, temperature 1.0, max_new_tokens 6" and settings["preset"] == "greedy" and settings["n"] == 4


def test_other_data_under_the_same_ids_does_not_resume(checkpoint, tmp_path, capsys):
    data = tmp_path / "math.jsonl"
    problems = [{"problem": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(3)]  # no unique_id: numbered
    data.write_text("".join(json.dumps(p) + "\n" for p in problems))
    args = ["eval", "run", "--bench", "math500", "--model", str(checkpoint), "--data", str(data), "--max-new-tokens", "2",
            "--device", "cpu", "--out", str(tmp_path / "run")]  # fmt: skip
    assert main([*args, "--limit", "2"]) == 0
    assert [r["id"] for r in read_run(tmp_path / "run" / "math500.jsonl")[1]] == ["0", "1"]
    data.write_text("".join(json.dumps(p | {"answer": "0"}) + "\n" for p in problems))
    capsys.readouterr()
    assert main([*args, "--resume"]) == 2
    assert "problem '0' was recorded with another gold than math500's" in capsys.readouterr().err


def test_a_base_model_is_evaluated_few_shot_by_default_and_says_so(checkpoint, tmp_path, capsys):
    args = ["eval", "run", "--bench", "math500", "--model", str(checkpoint), "--data", str(MATH500_FILE), "--limit", "2",
            "--max-new-tokens", "3", "--device", "cpu", "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(args) == 0
    assert "protocol: base-fewshot, max_new_tokens 3 (the default for base models; choose one with --protocol)" in capsys.readouterr().out
    settings, records = read_run(tmp_path / "run" / "math500.jsonl")
    assert settings["preset"] == "base-fewshot" and settings["shots"] == 4 and settings["stop"] and settings["temperature"] == 0
    assert all(record["prompt"].startswith("Problem:") and record["prompt"].count("Problem:") == 5 for record in records)


def test_qwen3_nothink_turns_thinking_off_and_penalises_repeats(checkpoint, tmp_path, capsys):
    args = ["eval", "run", "--bench", "math500", "--model", str(checkpoint), "--data", str(MATH500_FILE), "--limit", "1",
            "--protocol", "qwen3-nothink", "--n", "2", "--max-new-tokens", "3", "--kind", "reasoning", "--device", "cpu",
            "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(args) == 0
    settings, [record] = read_run(tmp_path / "run" / "math500.jsonl")
    assert settings["enable_thinking"] is False and settings["presence_penalty"] == 1.5 and settings["top_p"] == 0.8
    assert settings["prompt"] == "r1" and settings["grade_after_thinking"] is True
    assert record["prompt"].endswith("within \\boxed{}.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert "protocol: qwen3-nothink" not in capsys.readouterr().out  # named, so not announced as a default
