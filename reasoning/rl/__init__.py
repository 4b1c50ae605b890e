"""Reinforcement learning with verifiable rewards: GRPO and its published variants.

rollout (G completions per prompt from the engine), rewards (grader + format + your own),
losses (pure tensor functions), trainer (the loop), distributed (FSDP2 under torchrun),
tasks (the toy addition task and math), state and metrics (checkpoints, CSV/JSONL, plots).
"""
