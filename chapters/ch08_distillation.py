"""Chapter 8: distilling reasoning. A teacher samples solutions with their thinking, the grader
keeps the correct ones (rejection sampling), and a student is fine-tuned on them, fully or
with LoRA adapters; the student is evaluated before and after.

Without a teacher this runs offline on the toy addition task: the teacher is the toy model
fine-tuned on the sums it is taught, the student the same model before that; the student
learns from the teacher's sampled, graded traces of the training sums only, and its greedy
accuracy on sums it never saw rises from about 8% to about 75% in seconds.
The same jobs are `reasoning distill generate` and `reasoning train sft`.

    python chapters/ch08_distillation.py                                  # toy task, CPU, offline
    python chapters/ch08_distillation.py --teacher qwen3-4b --student qwen3-0.6b \\
        --dataset train.jsonl --bench math500 --limit 100 --lora-rank 16
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from pathlib import Path

from reasoning.cli import run_command
from reasoning.flags import non_negative_int, positive_int
from reasoning.generation import GenerationConfig
from reasoning.sft import distill, trainer
from reasoning.sft.config import SFTConfig
from reasoning.sft.data import read_conversations, tokenize
from reasoning.training.metrics import read_metrics


def toy(args: argparse.Namespace) -> None:
    from reasoning.sft.toy import toy_evaluator, toy_student, toy_traces
    from reasoning.training.checkpoints import refuse_existing_run

    student_dir = args.out / "student"
    if not (args.resume or args.overwrite):
        refuse_existing_run(student_dir)  # before any training: an earlier student is never replaced unasked
    # The teacher is rebuilt, the same, on every run (seconds); its traces resume.
    teacher = toy_student(seed=args.seed)
    taught, _ = tokenize(toy_traces(teacher), teacher.tokenizer, max_length=64)
    trainer.train(trainer.prepare(teacher.model, teacher.tokenizer, SFTConfig.from_name("toy")), taught, args.out / "teacher", overwrite=True)
    print(f"teacher: greedy accuracy on unseen sums {toy_evaluator(teacher, args.out / 'teacher')(teacher.model, 0)['eval_accuracy']:.0%}")

    sampling = GenerationConfig(n=args.n, temperature=1.0, max_new_tokens=8, seed=args.seed)
    traces = args.out / "traces.jsonl"
    counts = distill.generate_traces(
        teacher.model, teacher.tokenizer, teacher.train, traces, teacher="toy teacher", config=sampling,
        resume=traces.exists(), progress=False,
    )  # fmt: skip
    print(f"traces: {counts['kept']} kept of {counts['samples']} samples ({counts['correct']} correct, {counts['duplicates']} duplicates)")

    student = toy_student(seed=args.seed)
    before = toy_evaluator(student, args.out / "before")(student.model, 0)["eval_accuracy"]
    lora = {"lora_rank": args.lora_rank, "lora_alpha": 2 * args.lora_rank, "epochs": 120} if args.lora_rank else {}  # fewer weights move: more steps
    config = SFTConfig.from_name("toy", **lora)
    examples, _ = tokenize(read_conversations(traces, prompt="plain"), student.tokenizer, max_length=config.max_length)
    run = trainer.prepare(student.model, student.tokenizer, config)
    trainer.train(
        run, examples, student_dir, evaluate=toy_evaluator(student, student_dir), resume=args.resume, overwrite=args.overwrite,
        on_resume=print_resume,
    )  # fmt: skip
    after = read_metrics(student_dir / "metrics.csv")[-1]["eval_accuracy"]  # also when --resume found the run finished
    print(f"student ({'LoRA rank ' + str(args.lora_rank) if args.lora_rank else 'full fine-tuning'}): "
          f"greedy accuracy on unseen sums {before:.0%} before, {after:.0%} after")  # fmt: skip


def print_resume(step: int, last: int) -> None:
    print(f"student: resuming from step {step} of {last}")


def real(args: argparse.Namespace) -> None:
    from reasoning.checkpoint import load_pretrained
    from reasoning.evaluation.benchmarks import load_benchmark
    from reasoning.hub import base_model_name
    from reasoning.sft.data import load_examples
    from reasoning.training.data import load_task
    from reasoning.training.evaluate import task_evaluator
    from reasoning.training.run import load_model, run_training

    problems = load_task(dataset=args.dataset, question_field=args.question_field, answer_field=args.answer_field)
    bench = load_benchmark(args.bench, data=args.bench_data, limit=args.limit)  # before any weights: a bad file fails now
    teacher, tokenizer = load_pretrained(args.teacher)
    traces = args.out / "traces.jsonl"
    sampling = dataclasses.replace(distill.DISTILL_CONFIG, n=args.n, max_new_tokens=args.max_new_tokens)
    counts = distill.generate_traces(teacher, tokenizer, problems, traces, teacher=args.teacher, config=sampling, resume=traces.exists())
    print(f"traces: {counts['kept']} kept of {counts['samples']} samples ({counts['correct']} correct)")
    del teacher

    config = SFTConfig.from_name("lora" if args.lora_rank else "full", **({"lora_rank": args.lora_rank} if args.lora_rank else {}))
    student, tokenizer = load_model(args.student, dtype=config.dtype)
    evaluator = functools.partial(task_evaluator, tokenizer, bench, model_name=args.student, max_new_tokens=args.max_new_tokens)
    before = evaluator(args.out / "before")(student, 0)["eval_accuracy"]
    examples = load_examples(traces, tokenizer, config)
    out = args.out / "student"
    prepare = functools.partial(trainer.prepare, config=config, base_model=base_model_name(args.student))
    train = functools.partial(
        trainer.train, examples=examples.train, out_dir=out, evaluate=evaluator(out), resume=args.resume, overwrite=args.overwrite,
        on_resume=print_resume,
    )  # fmt: skip
    run_training(student, tokenizer, prepare, train, out)
    after = read_metrics(out / "metrics.csv")[-1]["eval_accuracy"]  # also when --resume found the run finished
    print(f"{args.bench} greedy pass@1 of {args.student}: {before:.1%} before, {after:.1%} after distillation")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", help="alias, hub id or checkpoint directory (default: the toy task)")
    parser.add_argument("--student", default="qwen3-0.6b")
    parser.add_argument("--dataset", help="training problems with reference answers (.json/.jsonl or a hub dataset)")
    parser.add_argument("--question-field", default="question")
    parser.add_argument("--answer-field", default="answer")
    parser.add_argument("--bench", default="math500", help="what the student is evaluated on")
    parser.add_argument("--bench-data", type=Path, help="local file of --bench (default: the hub)")
    parser.add_argument("--limit", type=positive_int, default=100, help="problems of --bench")
    parser.add_argument("--n", type=positive_int, default=4, help="teacher samples per problem")
    parser.add_argument("--max-new-tokens", type=positive_int, default=4096, help="the teacher's samples and the student's answers")
    parser.add_argument("--lora-rank", type=non_negative_int, default=0, help="0: full fine-tuning")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/ch08"))
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue the student's run in --out (the traces always resume)")
    start.add_argument("--overwrite", action="store_true", help="replace the student's run in --out")
    args = parser.parse_args()
    if args.teacher and not args.dataset:
        raise ValueError("a teacher needs --dataset: the problems it writes traces for")
    if args.teacher is None:
        toy(args)
    else:
        real(args)


OFFLINE = "pass local checkpoint directories as --teacher and --student, or leave out --teacher to run the toy task offline"

if __name__ == "__main__":
    if status := run_command("ch08_distillation.py", main, offline=OFFLINE):  # no SystemExit on success (runpy, %run)
        sys.exit(status)
