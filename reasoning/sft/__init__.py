"""Supervised fine-tuning and distillation (the book's chapter 8).

traces (the teacher's thinking and answer, as records), distill (a teacher samples, the
grader keeps correct traces), data (examples in the student's chat template, the length
rule, length-bucketed batches), config (SFTConfig and presets), trainer (the loop, on the
same checkpoints, metrics and FSDP2 as GRPO in `reasoning.rl`).
"""
