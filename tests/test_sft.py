"""Supervised fine-tuning: the student's template, the length rule, batches, the loss on
response tokens only (against a plain cross-entropy), the schedule, exact resume, and the
offline proof that SFT on correct traces lifts held-out accuracy."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from reasoning.data import DatasetError
from reasoning.model.config import Qwen3Config
from reasoning.model.qwen3 import Qwen3Model
from reasoning.prompts import build_prompt, math_prompt
from reasoning.sft import trainer
from reasoning.sft.config import SFTConfig
from reasoning.sft.data import (
    Conversation, Example, collate, epoch_batches, read_conversations, render, split_held_out, tokenize,
)  # fmt: skip
from reasoning.sft.toy import toy_evaluator, toy_student, toy_traces
from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer
from reasoning.training.checkpoints import RunExistsError
from reasoning.training.metrics import read_metrics

CHAT = Qwen3Tokenizer(build_offline_tokenizer(), base=False)
BASE = Qwen3Tokenizer(build_offline_tokenizer(), base=True)
TINY = Qwen3Config.from_name("0.6B", vocab_size=151_936, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=4, num_kv_heads=2, head_dim=16)


def test_a_chat_student_learns_the_thinking_and_answer_up_to_its_end_of_turn():
    prompt, response = render(Conversation("What is 2+2?", "It is \\boxed{4}.", "2 and 2 make 4."), CHAT)
    assert prompt == CHAT.apply_chat_template([{"role": "user", "content": "What is 2+2?"}], add_generation_prompt=True)
    assert response == "<think>\n2 and 2 make 4.\n</think>\n\nIt is \\boxed{4}.<|im_end|>"
    (example,), _ = tokenize([Conversation("What is 2+2?", "It is \\boxed{4}.", "2 and 2 make 4.")], CHAT, max_length=100)
    assert example.response_ids[0] == CHAT.think_start_id and example.response_ids[-1] == CHAT.im_end_id
    assert CHAT.decode(example.prompt_ids + example.response_ids) == prompt + response  # special tokens as single ids


def test_a_non_thinking_student_gets_the_empty_think_block_in_its_prompt_and_learns_the_answer():
    prompt, response = render(Conversation("Q", "A \\boxed{1}", "long thoughts"), CHAT, thinking=False)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert response == "A \\boxed{1}<|im_end|>"


def test_a_pair_keeps_its_own_thinking_and_a_base_student_reads_plain_text():
    _, response = render(Conversation("Q", "<think>\nhmm\n</think>\n\nyes"), CHAT)
    assert response == "<think>\nhmm\n</think>\n\nyes<|im_end|>"
    assert render(Conversation("3+4=", "\\boxed{7}", "4 after 3"), BASE) == ("3+4=", "<think>\n4 after 3\n</think>\n\n\\boxed{7}<|endoftext|>")
    assert render(Conversation("3+4=", "\\boxed{7}", ""), BASE) == ("3+4=", "\\boxed{7}<|endoftext|>")


def test_traces_get_the_math_prompt_eval_uses_or_the_problem_as_is(tmp_path):
    path = tmp_path / "traces.jsonl"
    path.write_text(json.dumps({"problem": "What is 1+1?", "thinking": "one and one", "answer": "\\boxed{2}", "problem_id": "p1"}) + "\n")
    (math,) = read_conversations(path)
    prompt, _ = render(math, CHAT)
    assert prompt == build_prompt("What is 1+1?", kind="reasoning", chat=CHAT.apply_chat_template)
    assert (math.thinking, math.reply, math.group) == ("one and one", "\\boxed{2}", "p1")
    (plain,) = read_conversations(path, prompt="plain")
    assert plain.user == "What is 1+1?"


def test_bad_pair_files_name_the_line_and_field(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"prompt": "a", "response": "b"}) + "\n\n" + json.dumps({"prompt": "a", "response": ""}) + "\n")
    with pytest.raises(DatasetError, match=r"pairs.jsonl, line 3: field 'response'"):
        read_conversations(path)
    path.write_text(json.dumps({"question": "a"}) + "\n")
    with pytest.raises(DatasetError, match="expected a trace .* or a pair"):
        read_conversations(path)
    path.write_text("{not json\n")
    with pytest.raises(DatasetError, match="line 1: invalid JSON"):
        read_conversations(path)
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        read_conversations(tmp_path / "missing.jsonl")


def test_the_length_rule_drops_or_truncates_and_counts_by_name():
    short, long = Conversation("1+1=", "\\boxed{2}", ""), Conversation("1+1=", "\\boxed{" + "2" * 40 + "}", "")
    kept, counts = tokenize([short, long], BASE, max_length=16)
    assert counts == {"read": 2, "kept": 1, "dropped": 1, "truncated": 0} and len(kept[0]) <= 16
    kept, counts = tokenize([short, long], BASE, max_length=16, too_long="truncate")
    assert counts == {"read": 2, "kept": 2, "dropped": 0, "truncated": 1}
    assert len(kept[1]) == 16 and kept[1].truncated and kept[1].response_ids[-1] != BASE.eos_token_id
    # a prompt that leaves no room for one response token is dropped even when truncating
    _, counts = tokenize([Conversation(" ".join(map(str, range(40))), "y", "")], BASE, max_length=8, too_long="truncate")
    assert counts["dropped"] == 1


def test_collate_masks_exactly_the_response_tokens():
    rows = collate([Example((5, 6, 7), (8, 9)), Example((1,), (2, 3, 4, 10))], pad_id=0)
    # rows come sorted by prompt: (1,) first
    assert rows.input_ids.tolist() == [[1, 2, 3, 4, 10], [5, 6, 7, 8, 9]]
    assert rows.attention_mask.tolist() == [[1] * 5, [1] * 5]
    # position t predicts token t + 1
    assert rows.completion_mask.tolist() == [[1, 1, 1, 1], [0, 0, 1, 1]]


def test_batches_cover_each_example_once_per_epoch_are_length_sorted_and_reproducible():
    lengths = [int(x) for x in torch.randint(5, 500, (1000,), generator=torch.Generator().manual_seed(0))]
    batches = epoch_batches(lengths, 8, seed=3, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(1000)) and len(batches) == 125
    assert batches == epoch_batches(lengths, 8, seed=3, epoch=0) != epoch_batches(lengths, 8, seed=3, epoch=1)
    padding = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)
    assert padding < 0.1 * sum(lengths)  # a random cut would pad about half


def test_held_out_examples_are_whole_problems():
    examples = [Example((1,), (2,), group=f"p{i // 3}") for i in range(30)]
    train, held = split_held_out(examples, 2, seed=0)
    assert len(held) == 6 and not {e.group for e in train} & {e.group for e in held}
    with pytest.raises(ValueError, match="nothing would be left"):
        split_held_out(examples, 10)


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_the_schedule_warms_up_then_decays_to_the_floor_without_a_wasted_step(schedule):
    config = SFTConfig(lr=1.0, warmup_steps=4, schedule=schedule, min_lr_ratio=0.1)
    rates = [trainer.learning_rate(step, 20, config) for step in range(1, 21)]
    assert rates[:4] == [0.25, 0.5, 0.75, 1.0] and rates[4] == 1.0
    assert all(a > b for a, b in zip(rates[4:], rates[5:])) and rates[-1] > 0.1
    middle = 0.1 + 0.9 * (0.5 * (1 + math.cos(math.pi * 0.5)) if schedule == "cosine" else 0.5)
    assert rates[4 + 8] == pytest.approx(middle)  # progress 8/16
    assert trainer.learning_rate(7, 20, SFTConfig(lr=2.0, schedule="constant")) == 2.0


def examples_of(lengths, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [
        Example(tuple(torch.randint(0, 1000, (p,), generator=generator).tolist()), tuple(torch.randint(0, 1000, (r,), generator=generator).tolist()))
        for p, r in lengths
    ]


def test_one_step_gives_the_token_mean_cross_entropy_of_the_responses_and_its_gradient(one_thread, tmp_path):
    torch.manual_seed(0)
    model = Qwen3Model(TINY)
    reference = Qwen3Model(TINY)
    reference.load_state_dict(model.state_dict())
    batch = examples_of([(3, 5), (7, 2), (2, 9), (4, 4), (6, 1)])
    learner = trainer.prepare(model, BASE, SFTConfig(batch_size=5, micro_batch_size=2, dtype="float32", max_grad_norm=0, lr=1e-9))
    stats = trainer.sft_step(learner, batch, lr=0.0)  # lr 0: the weights stay, the gradients are kept
    # the plain reference: full logits, cross-entropy on response tokens, one mean over the whole batch
    rows = collate(batch, 0)
    logits = reference.logits(reference(rows.input_ids))[:, :-1]
    targets = rows.input_ids[:, 1:].masked_fill(rows.completion_mask == 0, -100)
    loss = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
    loss.backward()
    assert stats["loss"] == pytest.approx(loss.item(), rel=1e-5)
    assert stats["tokens"] == 21 and stats["sequences"] == 5
    for (name, ours), theirs in zip(model.named_parameters(), reference.parameters()):
        torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-4, atol=1e-6, msg=name)
    assert stats["grad_norm"] == pytest.approx(torch.cat([p.grad.flatten() for p in reference.parameters()]).norm().item(), rel=1e-4)
    held = trainer.evaluation_loss(learner, batch)
    assert held == pytest.approx(loss.item(), rel=1e-5)


def test_sft_on_correct_traces_lifts_held_out_accuracy_on_the_toy_task(tmp_path):
    toy = toy_student(seed=0)
    before = toy_evaluator(toy, tmp_path / "before")(toy.model, 0)["eval_accuracy"]
    examples, _ = tokenize(toy_traces(toy), toy.tokenizer, max_length=64)
    learner = trainer.prepare(toy.model, toy.tokenizer, SFTConfig.from_name("toy"))
    rows = trainer.train(learner, examples, tmp_path, evaluate=toy_evaluator(toy, tmp_path))
    after = rows[-1]["eval_accuracy"]
    assert before <= 0.2 and after >= before + 0.5, (before, after)
    assert rows[-1]["loss"] < rows[0]["loss"] / 3
    logged = read_metrics(tmp_path / "metrics.csv")
    assert [row["step"] for row in logged] == list(range(1, 181))
    assert logged[-1]["eval_accuracy"] == pytest.approx(after, abs=1e-6)
    assert logged[-1]["lr"] == pytest.approx(rows[-1]["lr"], rel=1e-5)


class Interrupt(Exception):
    pass


def toy_run(out, config, resume=False, stop_after=None):
    toy = toy_student(seed=0)
    examples, _ = tokenize(toy_traces(toy), toy.tokenizer, max_length=64)
    learner = trainer.prepare(toy.model, toy.tokenizer, config)

    def on_step(row):
        if stop_after is not None and row["step"] == stop_after:
            raise Interrupt

    try:
        trainer.train(learner, examples, out, resume=resume, on_step=on_step, evaluate=toy_evaluator(toy, out))
    except Interrupt:
        pass
    return learner


def test_an_interrupted_run_resumes_to_the_same_metrics_and_weights(tmp_path):
    config = SFTConfig.from_name("toy", epochs=4, checkpoint_every=5, eval_every=6)
    whole = toy_run(tmp_path / "whole", config)
    toy_run(tmp_path / "cut", config, stop_after=7)  # checkpoint at step 5; steps 6-7 are redone
    resumed = toy_run(tmp_path / "cut", config, resume=True)
    timing = ("tokens_per_s", "seconds")
    strip = lambda rows: [{k: v for k, v in row.items() if k not in timing} for row in rows]
    assert strip(read_metrics(tmp_path / "cut" / "metrics.csv")) == strip(read_metrics(tmp_path / "whole" / "metrics.csv"))
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_a_run_refuses_what_would_lose_or_mix_results(tmp_path):
    config = SFTConfig.from_name("toy", steps=2, checkpoint_every=1)
    toy_run(tmp_path, config)
    with pytest.raises(RunExistsError, match="--resume"):
        toy_run(tmp_path, config)
    with pytest.raises(ValueError, match="settings differ .* lr"):
        toy_run(tmp_path, SFTConfig.from_name("toy", steps=2, checkpoint_every=1, lr=1e-2), resume=True)
    with pytest.raises(ValueError, match="no training examples"):
        toy = toy_student()
        trainer.train(trainer.prepare(toy.model, toy.tokenizer, config), [], tmp_path / "empty")
    with pytest.raises(ValueError, match="micro_batch_size must be >= 1"):
        SFTConfig(micro_batch_size=0)
    with pytest.raises(ValueError, match="unknown SFT preset"):
        SFTConfig.from_name("qlora")


def test_the_command_trains_a_checkpoint_on_traces_with_held_out_loss_and_suite_accuracy(tmp_path, capsys):
    from conftest import MATH500_FILE

    from reasoning.checkpoint import save_pretrained
    from reasoning.cli import main
    from reasoning.evaluation.rundir import read_task

    torch.manual_seed(0)
    model_dir = save_pretrained(Qwen3Model(TINY), CHAT, tmp_path / "student")
    traces = tmp_path / "traces.jsonl"
    traces.write_text("".join(
        json.dumps({"problem": f"What is {i}+{i}?", "thinking": f"{i} twice", "answer": f"\\boxed{{{2 * i}}}", "problem_id": f"p{i}"}) + "\n"
        for i in range(6)
    ))  # fmt: skip
    out = tmp_path / "run"
    args = ["train", "sft", "--model", str(model_dir), "--data", str(traces), "--out", str(out), "--held-out", "2",
            "--eval-bench", "math500", "--bench-data", str(MATH500_FILE), "--eval-limit", "2", "--eval-max-new-tokens", "3",
            "--batch-size", "2", "--micro-batch-size", "1", "--epochs", "2", "--dtype", "float32", "--lr", "1e-3"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "examples: 4 to train on, 2 held out" in printed
    rows = read_metrics(out / "metrics.csv")
    assert [row["step"] for row in rows] == [1, 2, 3, 4]
    assert rows[-1]["eval_loss"] > 0 and rows[0]["eval_loss"] is None
    last = [line for line in printed.splitlines() if line.startswith("step")][-1]
    assert last.startswith("step     4 epoch 2.00 ") and f" loss {rows[-1]['loss']:.4f} " in last
    assert f" eval-loss {rows[-1]['eval_loss']:.3f} eval-acc {rows[-1]['eval_accuracy']:.3f} " in last
    _, records = read_task(out / "eval" / "step-000004", "math500")
    assert len(records) == 2
    assert rows[-1]["eval_accuracy"] == sum(r["samples"][0]["correct"] for r in records) / 2
    assert (out / "checkpoints" / "step-000004" / "model.safetensors").is_file()
    assert main(args) == 2  # the run exists: refused without --resume
    assert "--resume" in capsys.readouterr().err
    stale = out / "eval" / "step-000004" / "math500.jsonl"
    assert main([*args, "--overwrite", "--lr", "2e-3"]) == 0  # a new run: its evaluations are its own, not reused
    assert stale.is_file() and read_metrics(out / "metrics.csv")[-1]["lr"] != rows[-1]["lr"]
    assert '"correct": false' in stale.read_text()
    stale.write_text(stale.read_text().replace('"correct": false', '"correct": true'))  # what a reuse would read back
    assert main([*args, "--overwrite"]) == 0
    assert read_metrics(out / "metrics.csv")[-1]["eval_accuracy"] == rows[-1]["eval_accuracy"]


def test_the_offline_toy_command_trains_prints_held_out_accuracy_and_plots(tmp_path, capsys):
    from reasoning.cli import main
    from reasoning.training.metrics import plot_metrics

    out = tmp_path / "toy"
    assert main(["train", "sft", "--task", "toy-addition", "--epochs", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "examples: 88 to train on, 0 held out; length rule (drop above 64 tokens): 0 dropped, 0 truncated of 88" in printed
    rows = read_metrics(out / "metrics.csv")
    assert len(rows) == 6 and rows[-1]["eval_accuracy"] is not None
    assert [line for line in printed.splitlines() if line.startswith("step")][-1].count(f"eval-acc {rows[-1]['eval_accuracy']:.3f}") == 1
    assert plot_metrics(out / "metrics.csv", tmp_path / "curves.png").stat().st_size > 10_000
    assert main(["train", "sft", "--task", "toy-addition", "--merge", "--out", str(tmp_path / "x")]) == 2
    assert "--merge folds LoRA adapters" in capsys.readouterr().err


def test_lora_sft_moves_only_the_adapters_checkpoints_them_resumes_exactly_and_merges(tmp_path, capsys):
    pytest.importorskip("peft")
    from reasoning.checkpoint import load_pretrained
    from reasoning.cli import main
    from reasoning.lora import load_lora

    config = SFTConfig.from_name("toy", epochs=2, lora_rank=8, lora_alpha=16, lr=1e-2, checkpoint_every=2, eval_every=3)
    base = toy_student(seed=0).model.state_dict()
    whole = toy_run(tmp_path / "whole", config)
    toy_run(tmp_path / "cut", config, stop_after=3)
    toy_run(tmp_path / "cut", config, resume=True)
    strip = lambda rows: [{k: v for k, v in row.items() if k not in ("tokens_per_s", "seconds")} for row in rows]
    assert strip(read_metrics(tmp_path / "cut" / "metrics.csv")) == strip(read_metrics(tmp_path / "whole" / "metrics.csv"))
    trained = whole.model.state_dict()
    assert all(torch.equal(trained[name.replace("proj.weight", "proj.base_layer.weight")], value) for name, value in base.items())
    assert any(not torch.equal(v, torch.zeros_like(v)) for k, v in trained.items() if "lora_B" in k)
    final = tmp_path / "whole" / "checkpoints" / "step-000006"
    assert (final / "adapter_model.safetensors").is_file() and not (final / "model.safetensors").exists()

    out = tmp_path / "cli"
    argv = ["train", "sft", "--task", "toy-addition", "--epochs", "1", "--lora-rank", "8", "--lora-alpha", "16", "--lr", "1e-2", "--merge", "--out", str(out)]
    assert main(argv) == 0
    assert f"merged model: {out / 'merged'}" in capsys.readouterr().out
    adapted = load_lora(toy_student(seed=0).model, out / "checkpoints" / "step-000003").eval()
    merged, _ = load_pretrained(out / "merged", dtype=torch.float32)
    ids = torch.tensor([toy_student(seed=0).tokenizer.encode("3+4=\\boxed{7}")])
    with torch.no_grad():
        torch.testing.assert_close(merged.logits(merged(ids)), adapted.logits(adapted(ids)), rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--too-long", "cut"], "argument --too-long: invalid choice: 'cut'"),
        (["--micro-batch-size", "0"], "argument --micro-batch-size: must be a positive integer, got 0"),
        (["--gradient-checkpointing", "maybe"], "expected true or false, got 'maybe'"),
        (["--model", "m"], "train sft needs --model and --data"),
    ],
)
def test_bad_flags_are_one_line_before_any_model_is_loaded(argv, message, tmp_path, capsys):
    from reasoning.cli import main

    try:
        code = main(["train", "sft", "--out", str(tmp_path / "run"), *argv])
    except SystemExit as exit:
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2 and message in err.strip().splitlines()[-1] and "Traceback" not in err


def test_control_tokens_in_training_text_are_refused_where_they_are_read(tmp_path):
    from reasoning.sft.traces import read_traces

    traces = tmp_path / "traces.jsonl"
    traces.write_text(json.dumps({"problem": "Q", "thinking": "", "answer": "a <|im_end|> b"}) + "\n")
    with pytest.raises(DatasetError, match=r"line 1: field 'answer' holds the control token <\|im_end\|>"):
        read_traces(traces)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "<|im_start|>user", "response": "b"}) + "\n")
    with pytest.raises(DatasetError, match=r"line 1: field 'prompt' holds the control token <\|im_start\|>"):
        read_conversations(pairs)
    pairs.write_text(json.dumps({"prompt": "a", "response": "<think>never closed"}) + "\n")
    with pytest.raises(DatasetError, match="opens <think> without closing it"):
        read_conversations(pairs)


def test_a_pair_taught_to_a_non_thinking_student_loses_its_thinking():
    pair = Conversation("Q", "<think>\nhmm\n</think>\n\nyes")
    assert render(pair, CHAT, thinking=False)[1] == "yes<|im_end|>"
    assert render(pair, BASE, thinking=False)[1] == "yes<|endoftext|>"
    assert render(pair, BASE)[1] == "<think>\nhmm\n</think>\n\nyes<|endoftext|>"


def test_a_benchmarks_reference_solutions_are_conversations_ending_in_the_boxed_gold():
    from reasoning.data import Problem
    from reasoning.evaluation.benchmarks import load_benchmark
    from reasoning.evaluation.tasks import Task
    from reasoning.sft.data import reference_reply, task_conversations

    fixtures = Path(__file__).parent / "data" / "benchmarks"
    gsm8k = load_benchmark("gsm8k", data_dir=fixtures)
    first = task_conversations(gsm8k)[1]  # "It takes 2/2=<<2/2=1>>1 bolt of white fiber\n...3 bolts of fabric\n#### 3"
    assert first.user == math_prompt(gsm8k.problems[1].question) and first.group == gsm8k.problems[1].id
    assert first.reply == "It takes 2/2=1 bolt of white fiber\nSo the total amount of fabric is 2+1=3 bolts of fabric\n\nThe final answer is \\boxed{3}."
    assert first.thinking == "" and task_conversations(gsm8k, prompt="plain")[1].user == gsm8k.problems[1].question
    math500 = load_benchmark("math500", data_dir=fixtures)
    assert task_conversations(math500)[0].reply == math500.problems[0].solution.strip()  # it boxes its answer already
    assert reference_reply(Problem("x", "Q", "5", solution="<<1+1=2>> 2 and 3 make 5\n#### 5")) == "2 and 3 make 5\n\nThe final answer is \\boxed{5}."
    with pytest.raises(ValueError, match="mmlu-stem is multiple choice"):
        task_conversations(load_benchmark("mmlu-stem", data_dir=fixtures))
    with pytest.raises(ValueError, match="amc23 has no reference solutions"):
        task_conversations(Task("amc23", (Problem("a", "Q", "1"),)))


def test_train_sft_learns_a_benchmarks_solutions(tmp_path, capsys):
    from reasoning.checkpoint import save_pretrained
    from reasoning.cli import main

    torch.manual_seed(0)
    model_dir = save_pretrained(Qwen3Model(TINY), BASE, tmp_path / "student")
    out = tmp_path / "run"
    args = ["train", "sft", "--model", str(model_dir), "--bench", "gsm8k", "--data-dir", str(Path(__file__).parent / "data" / "benchmarks"),
            "--limit", "4", "--held-out", "1", "--out", str(out), "--batch-size", "3", "--micro-batch-size", "3", "--epochs", "1",
            "--dtype", "float32"]  # fmt: skip
    assert main(args) == 0
    assert "examples: 3 to train on, 1 held out; length rule (drop above 4096 tokens): 0 dropped, 0 truncated of 4" in capsys.readouterr().out
    [row] = read_metrics(out / "metrics.csv")
    assert row["sequences"] == 3 and row["eval_loss"] > 0
    with pytest.raises(SystemExit):  # argparse: --data or --bench, not both
        main([*args[:4], "--data", str(model_dir / "config.json"), *args[4:]])
    assert main(["train", "sft", "--model", str(model_dir), "--data-dir", str(tmp_path), "--data", str(model_dir / "config.json"),
                 "--out", str(tmp_path / "other")]) == 2  # fmt: skip
    assert "--data-dir goes with --bench" in capsys.readouterr().err


def test_the_reference_solution_patterns_take_linear_time_on_a_million_characters():
    import time

    from reasoning.data import Problem
    from reasoning.sft.data import reference_reply

    for text in ("<<" * 500_000, "\n#### " * 170_000, "<" * 1_000_000 + ">>", "#" * 1_000_000):
        start = time.perf_counter()
        reference_reply(Problem("x", "Q", "1", solution=text))
        assert time.perf_counter() - start < 1.0
