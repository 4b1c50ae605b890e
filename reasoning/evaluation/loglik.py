"""Multiple-choice scoring without generation: how likely is each choice letter to come next?

As in appendix F of "Build a Reasoning Model (From Scratch)": a prompt that ends in "Answer:"
is run through the model once, and each choice is scored by the log-probability of its
letter as the next token. No sampling and no answer extraction, so a base model is scored on
what it knows rather than on how well it follows an output format.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reasoning.generation.api import Tokenizer
from reasoning.model.qwen3 import last_positions


def letter_token_ids(tokenizer: Tokenizer, letters: Sequence[str]) -> list[int]:
    """The single token id of each letter as it follows "Answer:": " A" if one token, else "A"."""
    ids = []
    for letter in letters:
        if not letter:
            raise ValueError("a choice letter is empty")
        for text in (" " + letter, letter):
            tokens = tokenizer.encode(text)
            if len(tokens) == 1:
                ids.append(tokens[0])
                break
        else:
            raise ValueError(f"choice {letter!r} is not a single token, with or without a leading space")
    return ids


def choice_logprobs(
    model: nn.Module, tokenizer: Tokenizer, prompts: Sequence[str], letters: Sequence[str], *, batch_size: int = 16
) -> list[list[float]]:
    """Per prompt, the log-probability (log-softmax over the whole vocabulary) of each letter next.

    One forward pass per prompt, `batch_size` prompts at a time: sorted by length so that a
    batch pads little, padded on the right, and returned in the order of `prompts`.
    """
    if batch_size < 1:
        raise ValueError(f"need batch_size >= 1, got {batch_size}")
    letter_ids = letter_token_ids(tokenizer, letters)
    encoded = [tokenizer.encode(prompt) for prompt in prompts]
    if any(not ids for ids in encoded):
        raise ValueError("a prompt is empty: there is no token to predict the letter after")
    device = next(model.parameters()).device
    columns = torch.tensor(letter_ids, device=device)
    order = sorted(range(len(encoded)), key=lambda index: len(encoded[index]))
    results: list[list[float]] = [[] for _ in encoded]
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(len(encoded[index]) for index in batch)
            ids = torch.zeros(len(batch), width, dtype=torch.long)
            mask = torch.zeros(len(batch), width, dtype=torch.long)
            for row, index in enumerate(batch):
                ids[row, : len(encoded[index])] = torch.tensor(encoded[index])
                mask[row, : len(encoded[index])] = 1
            mask = mask.to(device)
            logits = model.logits(last_positions(model(ids.to(device), attention_mask=mask), mask))  # [batch, vocab]
            scores = logits.float().log_softmax(dim=-1)[:, columns].tolist()
            for row, index in enumerate(batch):
                results[index] = scores[row]
    return results
