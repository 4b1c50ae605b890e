"""The floor both trainers (GRPO in `reasoning.rl`, SFT in `reasoning.sft`) stand on.

learner (the model being trained, its plain copy, tokenizer, optimizer; the set-up: dtype, LoRA,
gradient checkpointing, FSDP2, AdamW), fsdp (sharding and gathering whole states under
torchrun), checkpoints (weights or adapters, optimizer and RNG; fresh start, resume), metrics
(CSV/JSONL rows, plots), evaluate (the periodic-evaluation hook and its evaluators), data
(training problems as evaluation tasks, and their prompts), toy (the offline addition task),
run (one path from a model to a trained, maybe merged, model under torchrun).

It imports the floors below it (evaluation, generation, the model, checkpoint and lora,
`reasoning.distributed`), never `reasoning.rl` or `reasoning.sft`.
"""
