"""Seconds per GRPO step and rollout tokens/s: our trainer against a sequential reference, one run.

    python evals/bench_grpo.py                      # 0.6B random weights, G=4, 64 new tokens, bf16, CPU
    python evals/bench_grpo.py --group-size 8 --repeats 1

One step = G rollouts of a 100-token prompt (no EOS, so every rollout is exactly --new-tokens
long), rewards, the clipped loss, backward, AdamW. Ours: `reasoning.rl.step.grpo_step`
(the batched engine samples the G completions together after one shared prefill; one
batched forward/backward computes the log-probs). The reference does what a straightforward
implementation does (as the book's chapter 6 code): each rollout generated alone with a KV
cache, then its log-probs computed and backpropagated alone, then AdamW. Both run on the same
weights in one process, alternating, best of --repeats; peak memory is what a step adds.
Reference figures for the book's own code on this machine are in /work/shared/bench/README.md.
"""

from __future__ import annotations

import argparse
import time

import torch
from bench_generation import PeakMemory, best_of, clock

from reasoning.data import Problem
from reasoning.evaluation.tasks import Task
from reasoning.generation import generate
from reasoning.logprobs import teacher_forced_logprobs
from reasoning.model.config import Qwen3Config
from reasoning.model.qwen3 import Qwen3Model
from reasoning.rl.config import GRPOConfig
from reasoning.rl.losses import group_advantages, grpo_loss, token_weights
from reasoning.rl.rewards import Reward
from reasoning.rl.rollout import pack
from reasoning.rl.step import grpo_step
from reasoning.rl.trainer import prepare


class StubTokenizer:
    """A fixed prompt of `length` ids, no EOS, and a decoded 'answer' that varies with the tokens."""

    eos_token_ids: tuple[int, ...] = ()
    pad_token_id = 0
    base = True  # prompts are the question as written: no chat template
    apply_chat_template = None

    def __init__(self, length: int) -> None:
        self.prompt = list(range(1000, 1000 + length))

    def encode(self, text: str) -> list[int]:
        return self.prompt

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        return f"\\boxed{{{sum(ids) % 3}}}"


def answer_reward(completion: str, problem: Problem) -> float:
    """Cheap string reward, so the timings are of the model, not of the grader."""
    return float(completion == f"\\boxed{{{problem.answer}}}")


def reference_step(model, optimizer, tokenizer, config: GRPOConfig, step: int) -> None:
    """The sequential baseline: generate each rollout alone, then its log-probs and backward alone."""
    device = next(model.parameters()).device
    results = [
        generate(model, None, [tokenizer.prompt], max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                 seed=step * 1000 + sample, eos_token_ids=[])[0]
        for sample in range(config.group_size)
    ]  # fmt: skip
    rewards = torch.tensor([answer_reward(tokenizer.decode(r.token_ids), Problem("p", "q", "1")) for r in results])
    advantages = group_advantages(rewards, config.group_size).to(device)
    optimizer.zero_grad(set_to_none=True)
    model.train()
    for index, result in enumerate(results):
        batch = pack([result], 0, device)
        logprobs, _ = teacher_forced_logprobs(model, batch, config.temperature, share_prompts=False)
        weights = token_weights(batch.completion_mask, "sequence", num_sequences=config.group_size)
        loss = grpo_loss(logprobs, logprobs.detach(), advantages[index : index + 1], weights, eps_low=0.2, eps_high=0.2)
        loss.loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="0.6B")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--prompt-len", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2, help="timed steps of each (after one warm-up step)")
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen3Model(Qwen3Config.from_name(args.preset))
    tokenizer = StubTokenizer(args.prompt_len)
    config = GRPOConfig(
        prompts_per_step=1, group_size=args.group_size, max_new_tokens=args.new_tokens, lr=1e-7, dtype=args.dtype,
        micro_batch_size=args.group_size, aggregation="sequence",
    )  # fmt: skip
    learner = prepare(model, tokenizer, config)
    task, rewards = Task("bench", (Problem("p", "q", "1"),), template="plain"), [Reward("answer", answer_reward)]
    counter = iter(range(1, 10**6))
    memory = {"ours": 0, "reference": 0}

    def timed(name, fn):
        def measure() -> float:
            with PeakMemory(device) as peak:
                seconds = clock(fn, device)
            memory[name] = max(memory[name], peak.peak)
            return seconds

        return measure

    ours = timed("ours", lambda: grpo_step(learner, task, next(counter), rewards))
    reference = timed("reference", lambda: reference_step(learner.model, learner.optimizer, tokenizer, config, next(counter)))
    where = f"{args.preset} random weights, {args.dtype}, {device}, {torch.get_num_threads()} threads"
    print(f"bench_grpo: {where}; G={args.group_size}, {args.new_tokens} new tokens, {args.prompt_len}-token prompt")
    start = time.perf_counter()
    ours(), None if args.skip_reference else reference()  # warm-up (allocations, AdamW state)
    print(f"warm-up step(s) took {time.perf_counter() - start:.0f} s")
    timings = best_of(args.repeats, ours, *(() if args.skip_reference else (reference,)))
    tokens = args.group_size * args.new_tokens
    gib = 2**30
    print(f"ours       {timings[0]:7.2f} s/step  {tokens / timings[0]:6.2f} rollout tok/s  peak +{memory['ours'] / gib:.2f} GiB")
    if not args.skip_reference:
        print(f"reference  {timings[1]:7.2f} s/step  {tokens / timings[1]:6.2f} rollout tok/s  peak +{memory['reference'] / gib:.2f} GiB")
        print(f"speed-up   {timings[1] / timings[0]:.2f}x")


if __name__ == "__main__":
    main()
