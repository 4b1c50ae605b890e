"""Memory and time of the LM head's log-probs, forward + backward: chunked against plain autograd.

    python evals/bench_logprobs.py                       # 4 completions x 1,024 tokens, real vocabulary
    python evals/bench_logprobs.py --tokens 4096 --hidden 1024

GRPO needs log p(token) of every completion token with gradients. Plain autograd keeps the
float32 [tokens, vocab] logits (and their log-softmax) for the backward pass;
`reasoning.logprobs.chunked_logprobs` keeps only the hidden states and one logsumexp per
token and recomputes the logits chunk by chunk in the backward pass. Both run here on the
same random hidden states and head weight, alternating; the peak memory each adds and its
best time are printed, with the largest difference between their log-probs and gradients.
"""

from __future__ import annotations

import argparse

import torch

from bench_generation import PeakMemory, best_of, clock
from reasoning.logprobs import chunked_logprobs


def plain_logprobs(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """What a straightforward implementation does: full logits, log-softmax, gather."""
    return (hidden @ weight.t()).float().log_softmax(dim=-1).gather(-1, targets[:, None]).squeeze(-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--completions", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=1024, help="tokens per completion")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=151_936)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    generator = torch.Generator().manual_seed(0)
    count = args.completions * args.tokens
    hidden = torch.randn(count, args.hidden, generator=generator).to(device, dtype).requires_grad_()
    weight = (torch.randn(args.vocab, args.hidden, generator=generator) / args.hidden**0.5).to(device, dtype).requires_grad_()
    targets = torch.randint(0, args.vocab, (count,), generator=generator).to(device)
    results, memory = {}, {}

    def timed(name, fn):
        def measure() -> float:
            hidden.grad = weight.grad = None

            def step() -> None:
                logprobs = fn(hidden, weight, targets)
                logprobs.sum().backward()
                results[name] = (logprobs.detach(), hidden.grad, weight.grad)

            with PeakMemory(device) as peak:
                seconds = clock(step, device)
            memory[name] = max(memory.get(name, 0), peak.peak)
            return seconds

        return measure

    chunked = timed("chunked", lambda h, w, t: chunked_logprobs(h, w, t)[0])
    plain = timed("plain", plain_logprobs)
    chunked(), plain()  # warm-up
    seconds = best_of(args.repeats, chunked, plain)
    print(
        f"bench_logprobs: {args.completions} completions x {args.tokens} tokens, vocabulary {args.vocab}, "
        f"hidden {args.hidden}, {args.dtype}, {device}, {torch.get_num_threads()} threads"
    )
    gib = 2**30
    for name, time in zip(("chunked", "plain"), seconds):
        print(f"{name:8s} forward + backward {time:6.2f} s   peak memory added {memory[name] / gib:5.2f} GiB")
    print(f"memory: chunked uses {memory['chunked'] / memory['plain']:.2f}x of plain autograd's")
    differences = [float((a.float() - b.float()).abs().max()) for a, b in zip(results["chunked"], results["plain"])]
    print("largest difference (log-probs, hidden grad, head grad): " + ", ".join(f"{d:.1e}" for d in differences))


if __name__ == "__main__":
    main()
