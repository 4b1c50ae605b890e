"""Supervised fine-tuning and distillation (the book's chapter 8).

traces (the teacher's thinking and answer, as records), distill (a teacher samples a task's
problems, the task's grade keeps correct traces), data (examples in the student's chat
template, the length rule, length-bucketed batches), config (SFTConfig and presets), trainer
(the loop), toy (the offline addition student and its traces). It stands on
`reasoning.training` (set-up, FSDP2, checkpoints, metrics files, evaluation hook), as GRPO in
`reasoning.rl` does, and never imports `reasoning.rl`.
"""
