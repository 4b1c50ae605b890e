"""Reinforcement learning with verifiable rewards: GRPO and its published variants.

config (GRPOConfig and presets), rollout (G completions per prompt from the engine), rewards
(the task's correctness, format checks, your own), losses (pure tensor functions), groups (a
step's problems, sampled and scored, dynamic sampling), step (one GRPO update), trainer (the
loop), metrics (GRPO's columns), launch (a run from names). It stands on `reasoning.training`
(set-up, FSDP2, checkpoints, metrics files, evaluation hook, the toy task) and never imports
`reasoning.sft`.
"""
