"""evaluate_task, the model-free half of an evaluation: records graded off the decode path,
resume after a crash, settings checks, shares of torchrun's ranks; on scripted solves."""

from __future__ import annotations

import json
import threading
import time

import pytest

from reasoning.data import Problem
from reasoning.distributed import World
from reasoning.evaluation import problem_record
from reasoning.evaluation.attempts import Attempt, Completion
from reasoning.evaluation.records import RecordsError, read_run, write_records
from reasoning.evaluation.run import check_combination, evaluate_task
from reasoning.evaluation.protocols import get_protocol
from reasoning.evaluation.rundir import read_task, write_summary
from reasoning.evaluation.strategies import Independent, SelfConsistency, SelfRefine
from reasoning.evaluation.summary import summarize
from reasoning.evaluation.tasks import Task


def problems(count=6):
    return [Problem(id=f"q{i}", question=f"What is {i} + {i}?", answer=str(2 * i), subject="arith", level=i % 2) for i in range(count)]


TASK = Task("gsm8k", tuple(problems()))


def scripted(n=3, fail_after=None, log=None, reverse=False):
    """Samples that depend only on the problem's index (as seeded streams do): sample k of
    problem i answers 2i when k <= i % n, else 2i + 1. `reverse`: problems finish last first."""

    def solve(items):
        order = list(enumerate(items))
        for count, (position, (index, _)) in enumerate(reversed(order) if reverse else order):
            if fail_after is not None and count == fail_after:
                raise KeyboardInterrupt  # the run dies mid-way
            samples = tuple(Completion(f"so \\boxed{{{2 * index + (k > index % n)}}}", 5 + k, "eos") for k in range(n))
            if log is not None:
                log.append(("generated", index, time.perf_counter()))
            yield position, Attempt(samples, 0.25)

    return solve


def run(out_dir, solve, resume=False, world=World(), settings=None, task=TASK):
    return evaluate_task(
        task, [p.question for p in task.problems], solve, out_dir, settings=settings or {"n": 3}, resume=resume,
        world=world, progress=False,
    )  # fmt: skip


def test_records_hold_every_sample_graded_and_the_header_the_settings(tmp_path):
    records = run(tmp_path, scripted())
    assert [r["id"] for r in records] == [f"q{i}" for i in range(6)]
    first = records[1]  # index 1: samples 0 and 1 right, sample 2 wrong
    assert [s["correct"] for s in first["samples"]] == [True, True, False] and first["correct"] == 2
    assert [s["extracted"] for s in first["samples"]] == ["2", "2", "3"] and first["groups"] == [0, 0, 1]
    assert first["gold"] == "2" and first["question"] == "What is 1 + 1?" and first["subject"] == "arith"
    assert all(s["finish_reason"] == "eos" and s["tokens"] in (5, 6, 7) and s["grade"]["method"] for s in first["samples"])
    assert first["tokens"] == 5 + 6 + 7 and "answer" not in first  # independent samples: no chosen answer
    settings, saved = read_task(tmp_path, "gsm8k")
    assert settings == {"task": "gsm8k", "task_kind": "math", "template": "math", "n": 3} and saved == records
    assert json.loads((tmp_path / "gsm8k.jsonl").read_text().splitlines()[0]) == {"settings": settings}


def test_records_are_written_as_graded_and_returned_in_problem_order(tmp_path):
    records = run(tmp_path, scripted(reverse=True))
    assert [r["id"] for r in records] == [f"q{i}" for i in range(6)]
    written = [r["id"] for r in read_run(tmp_path / "gsm8k.jsonl")[1]]
    assert sorted(written) == [f"q{i}" for i in range(6)] and written != sorted(written)  # in finishing order, roughly


def test_an_interrupted_run_resumes_without_loss_or_duplicates(tmp_path):
    whole = run(tmp_path / "whole", scripted())
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "cut", scripted(fail_after=4))
    assert len(read_task(tmp_path / "cut", "gsm8k")[1]) == 4  # every problem generated before the crash
    with open(tmp_path / "cut" / "gsm8k.jsonl", "a") as handle:
        handle.write('{"id": "q4", "ind')  # a line torn by the crash
    with pytest.raises(RecordsError, match="already holds results: pass --resume"):
        run(tmp_path / "cut", scripted())
    with pytest.raises(RecordsError, match="settings differ from the saved run: n saved 3, now 4"):
        run(tmp_path / "cut", scripted(), resume=True, settings={"n": 4})
    asked = []
    resumed = run(tmp_path / "cut", lambda items: (asked.extend(items), scripted()(items))[1], resume=True)
    assert [index for index, _ in asked] == [4, 5]  # only the unfinished problems were generated
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in resumed]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in whole]
    assert summarize(resumed)["pass@1"] == summarize(whole)["pass@1"]


def test_resume_refuses_a_file_whose_settings_cannot_be_read(tmp_path):
    run(tmp_path, scripted())
    path = tmp_path / "gsm8k.jsonl"
    headless = path.read_text().splitlines(keepends=True)[1:]  # the settings line lost
    path.write_text("".join(headless))
    with pytest.raises(RecordsError, match="first line holds no run settings"):
        run(tmp_path, scripted(), resume=True)
    assert path.read_text() == "".join(headless)  # nothing appended under other settings


def test_resume_keeps_one_header_and_the_settings_survive_rewriting(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, scripted(fail_after=2), settings={"seed": 3})
    run(tmp_path, scripted(), settings={"seed": 3}, resume=True)
    path = tmp_path / "gsm8k.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert "settings" in lines[0] and all("id" in line for line in lines[1:]) and len(lines) == 7
    settings, records = read_run(path)
    write_records(path, problem_record.regrade(TASK, records), settings)  # what `eval score --write` does
    assert read_run(path) == (settings, problem_record.regrade(TASK, records))
    with pytest.raises(RecordsError, match="settings differ from the saved run: seed saved"):
        run(tmp_path, scripted(), settings={"seed": 4}, resume=True)


def test_nothing_to_evaluate_is_an_error_and_writes_no_file(tmp_path):
    with pytest.raises(ValueError, match="nothing to evaluate: empty has no problems"):
        run(tmp_path, scripted(), task=Task("empty", ()))
    assert not any(tmp_path.iterdir())


def test_a_slow_grade_does_not_hold_up_generation(tmp_path, monkeypatch):
    """The first problem's grade takes 1.5 s; all other problems are generated (and graded)
    meanwhile, instead of waiting behind it."""
    log = []
    real = Task.grade

    def slow_first(task, problem, completion, *, timeout):
        if problem.id == "q0":
            time.sleep(1.5)
            log.append(("slow grade done", 0, time.perf_counter()))
        return real(task, problem, completion, timeout=timeout)

    monkeypatch.setattr(Task, "grade", slow_first)
    records = run(tmp_path, scripted(log=log))
    slow_done = next(t for what, _, t in log if what == "slow grade done")
    generated = [t for what, _, t in log if what == "generated"]
    assert len(generated) == 6 and max(generated) < slow_done
    assert len(records) == 6 and threading.active_count() < 50


def test_ranks_take_disjoint_shares_and_merge_to_the_whole(tmp_path):
    whole = run(tmp_path / "one", scripted())
    for rank in (0, 1):
        run(tmp_path / "two", scripted(), world=World(rank, 2))
    files = sorted(path.name for path in (tmp_path / "two").iterdir())
    assert files == ["gsm8k.rank0.jsonl", "gsm8k.rank1.jsonl"]
    _, merged = read_task(tmp_path / "two", "gsm8k")
    assert [r["id"] for r in merged] == [r["id"] for r in whole]
    assert [r["samples"] for r in merged] == [r["samples"] for r in whole]
    one, two = write_summary(tmp_path / "one"), write_summary(tmp_path / "two")
    assert {k: v for k, v in one["gsm8k"].items() if k != "seconds"} == {k: v for k, v in two["gsm8k"].items() if k != "seconds"}
    assert (tmp_path / "two" / "summary.json").is_file()


def test_a_problem_in_two_rank_files_is_an_error(tmp_path):
    run(tmp_path, scripted(), world=World(0, 2))
    (tmp_path / "gsm8k.rank1.jsonl").write_text((tmp_path / "gsm8k.rank0.jsonl").read_text())
    with pytest.raises(RecordsError, match="also in"):
        read_task(tmp_path, "gsm8k")


def test_a_line_another_rank_is_writing_does_not_stop_this_rank(tmp_path):
    run(tmp_path, scripted(), world=World(1, 2))
    other = tmp_path / "gsm8k.rank1.jsonl"
    other.write_text(other.read_text() + '{"id": "q5", "ind')  # rank 1 caught mid-write
    records = run(tmp_path, scripted(), world=World(0, 2))
    assert [r["id"] for r in records] == ["q0", "q2", "q4"]


def test_a_strategys_answer_is_graded_and_counted(tmp_path):
    """An answer chosen among the samples reads its grade; an answer of the strategy's own (a
    revision) is graded itself; the tokens are the strategy's total."""

    def solve(items):
        for position, (index, _) in enumerate(items):
            samples = (Completion(f"\\boxed{{{2 * index + 1}}}", 4, "eos"), Completion(f"\\boxed{{{2 * index}}}", 6, "eos"))
            answer = 1 if index % 2 else Completion(f"revised: \\boxed{{{2 * index}}}", 9, "length")
            yield position, Attempt(samples, 0.5, answer, tokens=40, details={"note": index})

    records = run(tmp_path, solve)
    chosen, revised = records[1], records[0]
    assert chosen["answer"] == {"sample": 1, "extracted": "2", "correct": True, "grade": chosen["samples"][1]["grade"]}
    assert revised["answer"]["text"] == "revised: \\boxed{0}" and revised["answer"]["correct"] is True
    assert revised["answer"]["tokens"] == 9 and revised["answer"]["finish_reason"] == "length"
    assert all(r["tokens"] == 40 and r["details"] == {"note": r["index"]} and r["correct"] == 1 for r in records)
    summary = summarize(records)
    assert summary["accuracy"] == 1.0 and summary["pass@1"] == 0.5 and summary["answers"] == 6
    assert summary["tokens_per_problem"] == 40 and summary["mean_tokens"] == 5


def test_combinations_that_cannot_run_are_refused_before_any_model():
    choice = Task("mmlu-stem", (Problem("c", "Q?", "A", meta={"choices": ["x", "y"]}),), "choice")
    greedy = get_protocol("greedy")
    with pytest.raises(ValueError, match="loglik scoring reads a choice letter; gsm8k is not multiple choice"):
        check_combination([TASK], greedy, Independent(), "loglik")
    with pytest.raises(ValueError, match="self-consistency strategy reads math answers; mmlu-stem is multiple choice"):
        check_combination([choice], greedy, SelfConsistency(), "generate")
    with pytest.raises(ValueError, match="self-refine refines one sample per problem: use n 1, not 4"):
        check_combination([TASK], get_protocol("r1").with_overrides(n=4), SelfRefine(), "generate")
    with pytest.raises(ValueError, match="loglik scoring reads one letter per problem"):
        check_combination([choice], greedy, SelfConsistency(), "loglik")
    with pytest.raises(ValueError, match="unknown scoring 'vote'"):
        check_combination([TASK], greedy, Independent(), "vote")
    check_combination([choice], greedy, Independent(), "loglik")  # fine


def test_the_bar_shows_tokens_and_their_rate_while_a_problem_is_still_decoding():
    import io

    import torch
    from tqdm import tqdm

    from reasoning.evaluation.run import TokenMeter
    from reasoning.generation import generate_as_completed
    from reasoning.generation.options import GenerationConfig
    from reasoning.model.qwen3 import Qwen3Model
    from reasoning.training.toy import TOY_CONFIG, toy_tokenizer

    torch.manual_seed(0)
    model, steps = Qwen3Model(TOY_CONFIG).eval(), []
    config = GenerationConfig(max_new_tokens=5, n=3, temperature=1.0, seed=0)
    results = [r for group in generate_as_completed(model, toy_tokenizer(), [[1, 2], [3]], config, on_step=steps.append) for r in group]
    assert sum(steps) == sum(r.num_tokens for r in results) and max(steps) > 1  # every token, a step's batch at a time

    meter = TokenMeter(every=0.0)
    meter.bar = tqdm(total=1, file=io.StringIO())
    meter.add(7)  # no problem has finished yet
    assert "tokens=7" in meter.bar.postfix and "tok/s=" in meter.bar.postfix
    meter.figures["accuracy"] = "50.0%"
    meter.add(3)
    assert meter.bar.postfix.startswith("accuracy=50.0%, tokens=10")
