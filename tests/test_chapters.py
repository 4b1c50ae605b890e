"""The chapter scripts run end to end, offline, in seconds: ch02, ch03, ch04b and appendix F on a
tiny random checkpoint with the real Qwen3 vocabulary, ch04 and ch05 on a scripted one, ch06,
ch07 and ch08 on the toy task, each for a few steps."""

from __future__ import annotations

import json
import re
import runpy
import sys
from pathlib import Path

import pytest
import torch

from conftest import MATH500_FILE
from figures import readme_figures, same_machine_as_the_readme
from reasoning.checkpoint import save_pretrained
from reasoning.evaluation.rundir import read_task
from reasoning.model.config import Qwen3Config
from reasoning.model.qwen3 import Qwen3Model
from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer
from reasoning.training.metrics import read_metrics

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"

pytestmark = pytest.mark.usefixtures("one_thread", "closed_endpoint")  # tiny models; the hub unreachable


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A tiny base checkpoint (the README's recipe), with large random weights so that greedy
    choices are far from ties: ch02 compares its decodings token for token."""
    torch.manual_seed(0)
    config = Qwen3Config.from_name("0.6B", hidden_size=64, intermediate_size=128, num_layers=2, num_heads=4,
                                   num_kv_heads=2, head_dim=32)  # fmt: skip
    model = Qwen3Model(config)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.3)
    tokenizer = Qwen3Tokenizer(build_offline_tokenizer(), base=True)
    return save_pretrained(model, tokenizer, tmp_path_factory.mktemp("tiny") / "tiny-qwen3")


def run_chapter(script: str, *argv, monkeypatch, capsys) -> str:
    """What `python chapters/<script> argv...` prints; a chapter that fails exits, failing the test."""
    monkeypatch.setattr(sys, "argv", [script, *map(str, argv)])
    runpy.run_path(str(CHAPTERS / script), run_name="__main__")
    return capsys.readouterr().out


def test_ch02_streams_then_decodes_the_same_tokens_with_and_without_the_kv_cache(checkpoint, monkeypatch, capsys):
    argv = ("--model", checkpoint, "--device", "cpu", "--dtype", "float32", "--max-new-tokens", "4")
    lines = run_chapter("ch02_generate_text.py", *argv, monkeypatch=monkeypatch, capsys=capsys).splitlines()
    assert lines[0] == f"{checkpoint}: 10M parameters, torch.float32 on cpu"
    assert "The prompt is 10 tokens: [35127, 752, 264, 2805, 16800, 311, 3460, 4128, 4119, 13]" in lines
    assert "(4 tokens, finished by length)" in lines
    timings = lines[lines.index("Decoding 4 tokens:") + 1 :][:2]
    assert [line[:22].strip() for line in timings] == ["no KV cache", "KV cache"]
    assert timings[0].endswith(" s, the reference)") and timings[1].endswith(" s, same tokens)")  # the KV cache's tokens are the reference's


def test_ch02_tells_a_near_tie_from_a_real_difference_and_shows_progress(checkpoint, monkeypatch, capsys):
    agreement = runpy.run_path(str(CHAPTERS / "ch02_generate_text.py"))["agreement"]
    reference, tops = [1, 2, 3], [{1: -0.1, 9: -3.0}, {2: -0.50, 3: -0.51}, {3: -0.2, 4: -2.0}]
    assert agreement(reference, tops, [1, 2, 3], [-0.1, -0.5, -0.2]) == "same tokens"
    # Rounding moved log-probs by up to 0.01; the top two at token 2 are 0.01 apart: a near tie.
    assert agreement(reference, tops, [1, 3, 4], [-0.11, -0.505, -0.3]).startswith("same first 1 tokens, then a near tie")
    # Parting where the top two are 1.8 apart is not rounding: a real difference.
    assert agreement(reference, tops, [1, 2, 4], [-0.11, -0.5, -1.9]).startswith("DIFFERENT from token 3: the top two 1.8 apart")
    assert agreement(reference, tops, [1, 2, 7], [-0.1, -0.5, -0.1]).startswith("DIFFERENT from token 3")  # not even in the top

    argv = ("--model", checkpoint, "--device", "cpu", "--dtype", "bfloat16", "--max-new-tokens", "4")
    monkeypatch.setattr(sys, "argv", ["ch02_generate_text.py", *map(str, argv)])
    runpy.run_path(str(CHAPTERS / "ch02_generate_text.py"), run_name="__main__")
    printed = capsys.readouterr()
    assert "no KV cache" in printed.err and "KV cache: " in printed.err  # the progress bars
    kv_line = next(line for line in printed.out.splitlines() if line.startswith("  KV cache "))
    assert kv_line.endswith(" s, same tokens)") or ", then a near tie: " in kv_line
    assert "where the top two are\ncloser than that (a near tie), either may win" in printed.out


def test_ch03_grades_an_example_then_evaluates_and_prints_the_accuracy(checkpoint, tmp_path, monkeypatch, capsys):
    out = tmp_path / "ch03"
    argv = ("--model", checkpoint, "--data", MATH500_FILE, "--limit", "2", "--max-new-tokens", "4", "--out", out)
    printed = run_chapter("ch03_evaluate_math500.py", *argv, monkeypatch=monkeypatch, capsys=capsys)
    first, second = json.loads(MATH500_FILE.read_text())[:2]
    example = f"problem: {first['problem'][:80]}...\nextracted {first['answer']!r} -> GradeResult(correct=True,"
    assert printed.startswith(example)
    assert re.search(r"^math500 +2 +1 +\d+\.\d% ± +\d+\.\d ", printed, re.M)  # problems, samples, pass@1 ± stderr
    settings, records = read_task(out, "math500")
    assert settings["model"] == str(checkpoint) and settings["kind"] == "base" and settings["max_new_tokens"] == 4
    assert [r["id"] for r in records] == [first["unique_id"], second["unique_id"]]
    assert all(0 < r["tokens"] <= 4 for r in records)


@pytest.fixture(scope="module")
def scripted_setup(tmp_path_factory):
    """A scripted checkpoint that answers " \\boxed{7}" (see test_evaluation_strategies) and problems whose answer is 7."""
    import scripted
    from test_scaling import answer_script

    root = tmp_path_factory.mktemp("scripted")
    save_pretrained(scripted.scripted_model(answer_script(eight_odds=-1.0)), scripted.tokenizer(), root / "scripted")
    rows = [{"problem": f"What is {k} + {7 - k}?", "answer": "7", "unique_id": f"p{k}"} for k in range(4)]
    (root / "problems.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return root / "scripted", root / "problems.jsonl"


@pytest.mark.parametrize("script", ["ch04_inference_scaling.py", "ch05_self_refinement.py"])
def test_ch04_and_ch05_evaluate_each_method_and_print_the_comparison(scripted_setup, script, monkeypatch, tmp_path, capsys):
    checkpoint, data = scripted_setup
    monkeypatch.chdir(tmp_path)  # they write results/ in the working directory
    extra = ["--n", "2"] if script.startswith("ch04") else ["--rounds", "1"]
    argv = ("--model", checkpoint, "--data", data, "--limit", "2", "--max-new-tokens", "8", "--plot", "cmp.png", *extra)
    printed = run_chapter(script, *argv, monkeypatch=monkeypatch, capsys=capsys)
    methods = 5 if script.startswith("ch04") else 3
    runs = sorted((tmp_path / "results").glob("*/math500.jsonl"))
    rows = [line.split() for line in printed.splitlines() if line.startswith("math500 ")]
    assert len(runs) == len(rows) == methods and [row[1] for row in rows] == ["A", "B", "C", "D", "E"][:methods]
    assert accuracy_by_method(rows)["independent greedy"] == "100.0%"  # the scripted model's greedy answer is right
    assert (tmp_path / "cmp.png").is_file()


def accuracy_by_method(rows: list[list[str]]) -> dict[str, str]:
    """{method: accuracy} from a comparison's rows: task, run, the method's words, problems, accuracy, ..."""
    found = {}
    for row in rows:
        accuracy = next(k for k, cell in enumerate(row) if cell.endswith("%"))
        found[" ".join(row[2 : accuracy - 1])] = row[accuracy]
    return found


def test_the_appendix_f_chapter_runs_and_prints_the_table(checkpoint, tmp_path, monkeypatch, capsys):
    argv = ("--model", checkpoint, "--bench", "gsm8k,amc23", "--data-dir", Path(__file__).parent / "data" / "benchmarks",
            "--limit", "2", "--n", "2", "--max-new-tokens", "4", "--out", tmp_path / "appF")  # fmt: skip
    out = run_chapter("appF_benchmarks.py", *argv, monkeypatch=monkeypatch, capsys=capsys)
    assert "gsm8k: 2 problems" in out and "pass@2" in out and "amc23" in out
    assert "pass@1 = 0.25, pass@2 = 0.50, pass@4 = 1.00" in out  # 1 of 4 correct: 1/4, 1 - C(3,2)/C(4,2), 1
    summary = json.loads((tmp_path / "appF" / "summary.json").read_text())
    assert summary["amc23"]["settings"]["preset"] == "qwen3" and summary["amc23"]["samples"] == 2


def test_ch06_works_one_group_by_hand_then_trains_the_toy_task(tmp_path, monkeypatch, capsys):
    out = tmp_path / "ch06"
    printed = run_chapter("ch06_grpo.py", "--steps", "2", "--out", out, monkeypatch=monkeypatch, capsys=capsys)
    lines = printed.splitlines()
    assert lines[:2] == [
        "rewards [1.0, 0.0, 0.0, 1.0] -> advantages [0.866, -0.866, -0.866, 0.866]",
        "a gradient step raises each completion's log-prob in proportion to [0.216, -0.216, -0.216, 0.216]",
    ]
    steps = [re.fullmatch(r"step +(\d+)  reward [01]\.\d{3}  length [\d.]+  [\d.]+ s", line) for line in lines[3:5]]
    assert all(steps) and [int(step.group(1)) for step in steps] == [1, 2], lines
    assert lines[-1] == f"metrics in {out / 'metrics.csv'}; draw them with: reasoning plot {out / 'metrics.csv'}"
    assert len((out / "metrics.csv").read_text().splitlines()) == 3  # a header and two steps
    assert (out / "checkpoints" / "step-000002" / "model.safetensors").is_file()


def test_ch07_lists_the_presets_then_trains_the_chosen_variant_with_its_overrides(tmp_path, monkeypatch, capsys):
    out = tmp_path / "ch07"
    argv = ("--variant", "dapo", "--beta", "0.01", "--mu", "2", "--steps", "2", "--out", out)
    lines = run_chapter("ch07_grpo_improved.py", *argv, monkeypatch=monkeypatch, capsys=capsys).splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["grpo", "dr-grpo", "dapo"]
    assert "eps_high=0.28" in lines[2] and "dynamic_sampling=refill" in lines[2]
    step = r"step +(\d+)  reward [01]\.\d{3}  groups kept \d+  skipped \d+  clip .*"
    steps = [re.fullmatch(step, line) for line in lines[3:]]
    assert all(steps) and [int(step.group(1)) for step in steps] == [1, 2], lines
    state = json.loads((out / "checkpoints" / "step-000002" / "trainer_state.json").read_text())
    dapo = {"eps_high": 0.28, "aggregation": "token", "mask_truncated": True, "dynamic_sampling": "refill"}
    overrides = {"beta": 0.01, "mu": 2, "steps": 2}
    assert {k: state["config"][k] for k in [*dapo, *overrides]} == {**dapo, **overrides}


def test_ch07_compares_presets_side_by_side_with_a_table_and_their_curves(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "ch07"
    argv = ("--compare", "grpo,olmo3", "--steps", "2", "--out", out)
    printed = run_chapter("ch07_grpo_improved.py", *argv, monkeypatch=monkeypatch, capsys=capsys)
    lines = printed.splitlines()
    assert lines[1].split()[0] == "olmo3" and "tis=truncate" in lines[1] and "dynamic_sampling=refill" in lines[1]
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("variant")) + 1 :][:2]
    for name, line in zip(("grpo", "olmo3"), table, strict=True):
        rows = read_metrics(out / name / "metrics.csv")
        state = json.loads((out / name / "checkpoints" / "step-000002" / "trainer_state.json").read_text())
        assert state["config"]["tis"] == ("truncate" if name == "olmo3" else "off") and state["config"]["group_size"] == 16
        correct = f"{sum(row['accuracy'] for row in rows) / 2:.3f}"  # two steps: the first 5 and the last 5 are both
        assert line.split()[:3] == [name, correct, correct]
    assert lines[-1] == f"curves: {out / 'rewards.png'}" and (out / "rewards.png").read_bytes()[:4] == b"\x89PNG"

    with pytest.raises(SystemExit) as refused:  # the runs exist: neither --resume nor --overwrite
        run_chapter("ch07_grpo_improved.py", *argv, monkeypatch=monkeypatch, capsys=capsys)
    assert refused.value.code == 2 and "--overwrite" in capsys.readouterr().err
    longer = ("--compare", "grpo,olmo3", "--steps", "3", "--out", out, "--resume")
    table = run_chapter("ch07_grpo_improved.py", *longer, monkeypatch=monkeypatch, capsys=capsys).splitlines()
    rows = read_metrics(out / "grpo" / "metrics.csv")
    assert [row["step"] for row in rows] == [1, 2, 3]  # resumed from step 2: the curve holds every step
    grpo = table[next(i for i, line in enumerate(table) if line.startswith("variant")) + 1]
    assert grpo.split()[:2] == ["grpo", f"{sum(row['accuracy'] for row in rows) / 3:.3f}"]  # the first 5 steps: all 3


def test_ch04b_shows_one_budget_by_hand_then_prints_the_curve(checkpoint, tmp_path, monkeypatch, capsys):
    data = Path(__file__).parent / "data" / "benchmarks"
    argv = ("--model", checkpoint, "--bench", "gsm8k", "--data-dir", data, "--limit", "2", "--n", "2", "--budgets", "4,2",
            "--answer-budget", "3", "--batch-size", "4", "--out", tmp_path / "sweep")  # fmt: skip
    printed = run_chapter("ch04b_thinking_budget.py", *argv, monkeypatch=monkeypatch, capsys=capsys)
    assert re.search(r"^thinking budget 2: \d+ thinking tokens, \d+ forced \(.*\), \d+ answer tokens$", printed, re.M)
    table = printed[printed.index("gsm8k: accuracy against thinking budget") :].splitlines()
    assert [line.split()[:2] for line in table[2:4]] == [["2", "2"], ["4", "2"]]  # budget, problems
    assert re.search(r"^decoded by the sweep: \d+ tokens; separate runs: \d+ \(\d+\.\d\dx\)$", printed, re.M)


@pytest.mark.parametrize("lora", [(), ("--lora-rank", "8")], ids=["full", "lora"])
def test_ch08_distils_the_toy_teacher_into_a_student_that_does_better_on_unseen_sums(lora, tmp_path, monkeypatch, capsys):
    reason = same_machine_as_the_readme()  # before the chapter sets its threads
    printed = run_chapter("ch08_distillation.py", "--out", tmp_path / "ch08", *lora, monkeypatch=monkeypatch, capsys=capsys)
    teacher = re.search(r"^teacher: greedy accuracy on unseen sums (\d+)%$", printed, re.M)
    traces = re.search(r"^traces: (\d+) kept of (\d+) samples \((\d+) correct, (\d+) duplicates\)$", printed, re.M)
    method = "LoRA rank 8" if lora else "full fine-tuning"
    student = re.search(rf"^student \({method}\): greedy accuracy on unseen sums (\d+)% before, (\d+)% after$", printed, re.M)
    assert teacher and traces and student, printed
    kept, samples, correct, duplicates = map(int, traces.groups())
    assert samples == 4 * 88 and kept == correct - duplicates > 0
    assert sum(1 for _ in open(tmp_path / "ch08" / "traces.jsonl")) == kept
    before, after = map(int, student.groups())
    assert before <= 20 and after >= before + 40
    readme = readme_figures(
        r"a teacher \(the same model fine-tuned on the training sums; (\d+)% on the unseen ones\) samples 4 answers to each "
        r"training sum, (\d+) of (\d+) grade correct, (\d+) distinct traces are kept, and the student fine-tuned on them goes "
        r"from (\d+)% to (\d+)% on the unseen sums; with LoRA rank 8 \(alpha 16, `--lora-rank 8`, \d+ s\), given twice the "
        r"epochs since fewer weights move, from (\d+)% to (\d+)%"
    )
    printed_figures = (int(teacher.group(1)), correct, samples, kept, before, after)
    expected = (*readme[:4], *(readme[6:] if lora else readme[4:6]))
    if reason is not None:
        pytest.skip(f"chapter 8's figures not compared exactly: {reason}")
    assert printed_figures == expected, f"the chapter prints {printed_figures}, the README says {expected}: re-measure and update it"


@pytest.mark.parametrize("lora_rank", [0, 4], ids=["full", "lora"])
def test_ch08_with_a_teacher_writes_traces_fine_tunes_the_student_and_evaluates_it_before_and_after(lora_rank, tmp_path, monkeypatch, capsys):
    import scripted

    chat = Qwen3Tokenizer(build_offline_tokenizer(), base=False)
    [newline], [blank], [hmm] = chat.encode("\n"), chat.encode("\n\n"), chat.encode(" hmm")
    answer = [chat.think_start_id, hmm, chat.think_end_id, blank, *chat.encode("\\boxed{4}")]
    teacher = save_pretrained(scripted.scripted_model(scripted.chain([newline, *answer], chat.eos_token_id)), chat, tmp_path / "teacher")
    torch.manual_seed(0)
    student = save_pretrained(Qwen3Model(Qwen3Config.from_name("0.6B", hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2,
                                                               num_kv_heads=1, head_dim=16)), chat, tmp_path / "student")  # fmt: skip
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps({"question": f"What is 2+2? ({k})", "answer": "4"}) + "\n" for k in range(3)))
    argv = ("--teacher", teacher, "--student", student, "--dataset", problems, "--bench", "math500", "--bench-data", MATH500_FILE,
            "--limit", "2", "--n", "2", "--max-new-tokens", "12", "--lora-rank", lora_rank, "--out", tmp_path / "ch08")  # fmt: skip
    printed = run_chapter("ch08_distillation.py", *argv, monkeypatch=monkeypatch, capsys=capsys)
    assert "traces: 3 kept of 6 samples (6 correct)" in printed  # two identical samples per problem: one kept
    assert re.search(rf"^math500 greedy pass@1 of {re.escape(str(student))}: 0\.0% before, 0\.0% after distillation$", printed, re.M)
    assert (tmp_path / "ch08" / "before" / "eval" / "step-000000" / "math500.jsonl").is_file()
    assert (tmp_path / "ch08" / "student" / "eval" / "step-000001" / "math500.jsonl").is_file()
    with pytest.raises(SystemExit) as refused:  # the student's run exists: neither --resume nor --overwrite
        run_chapter("ch08_distillation.py", *argv, monkeypatch=monkeypatch, capsys=capsys)
    assert refused.value.code == 2 and "--overwrite" in capsys.readouterr().err
    saved = tmp_path / "ch08" / "student" / "checkpoints" / "step-000001"
    assert (saved / ("adapter_model.safetensors" if lora_rank else "model.safetensors")).is_file()
    if lora_rank:
        assert json.loads((saved / "adapter_config.json").read_text())["base_model_name_or_path"] == str(student.resolve())


# A chapter that fails says why in one line and exits 2 (tests of `run_command` in the chapters' own words).
def run_failing_chapter(script: str, *argv, monkeypatch, capsys) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", [script, *map(str, argv)])
    with pytest.raises(SystemExit) as exit:
        runpy.run_path(str(CHAPTERS / script), run_name="__main__")
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.endswith("\n") and err.count("\n") == 1, err
    return exit.value.code, err


def test_a_chapter_without_network_names_the_flags_that_run_offline(capsys, monkeypatch):
    code, err = run_failing_chapter("ch03_evaluate_math500.py", "--limit", "1", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and err.startswith("ch03_evaluate_math500.py: error: the Hugging Face Hub")
    assert "--data PATH" in err and "--model" in err and "ch06_grpo.py" in err


def test_a_chapter_rerun_without_resume_is_refused_in_one_line(checkpoint, tmp_path, capsys, monkeypatch):
    out = tmp_path / "ch03"
    out.mkdir()
    record = {"id": "p1", "prompt": "1+1?", "completion": "so \\boxed{2}", "gold": "2", "correct": True, "tokens": 3, "seconds": 0.1}
    (out / "math500.jsonl").write_text(json.dumps({"settings": {"model": "m"}}) + "\n" + json.dumps(record) + "\n")
    argv = ("--model", checkpoint, "--data", MATH500_FILE, "--limit", "1", "--out", out)
    code, err = run_failing_chapter("ch03_evaluate_math500.py", *argv, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and "already holds results: pass --resume" in err
