"""A Qwen3 model whose next-token distribution is a script: it depends on the current token only.

Attention and MLP outputs are zeroed, so the residual stream at each position is the current
token's embedding. Each scripted token gets its own embedding direction and every other token
shares one ("anything else"); the LM head maps a direction to the logits written in the script.
Generation is then a Markov chain we choose, so the inference-time methods can be tested on
answers that mean something (and that the grader can check).
"""

from __future__ import annotations

import torch

from reasoning.model.config import Qwen3Config
from reasoning.model.qwen3 import Qwen3Model
from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer

HIDDEN = 64
CONFIG = Qwen3Config(
    vocab_size=151_936, hidden_size=HIDDEN, intermediate_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
    head_dim=16, max_position_embeddings=1024, tie_word_embeddings=False,
)  # fmt: skip
SURE = 40.0  # a logit that beats 150k zero logits by far


def tokenizer() -> Qwen3Tokenizer:
    return Qwen3Tokenizer(build_offline_tokenizer(), base=True)


def scripted_model(script: dict[int | None, dict[int, float]]) -> Qwen3Model:
    """script[current token] = {next token: logit}; script[None] applies to unscripted tokens."""
    tokens = [token for token in script if token is not None]
    assert len(tokens) < HIDDEN, "one embedding direction per scripted token"
    model = Qwen3Model(CONFIG).float().eval()
    with torch.no_grad():
        for layer in model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        direction = {None: 0, **{token: k + 1 for k, token in enumerate(tokens)}}
        model.embed_tokens.weight.zero_()
        model.embed_tokens.weight[:, 0] = 1.0
        for token, k in direction.items():
            if token is not None:
                model.embed_tokens.weight[token] = torch.nn.functional.one_hot(torch.tensor(k), HIDDEN).float()
        model.norm.weight.fill_(1.0)
        model.lm_head.weight.zero_()
        # The final RMSNorm turns a one-hot embedding into sqrt(HIDDEN) times it.
        for token, following in script.items():
            for successor, logit in following.items():
                model.lm_head.weight[successor, direction[token]] = logit / HIDDEN**0.5
    return model


def chain(ids: list[int], end: int) -> dict[int | None, dict[int, float]]:
    """A script that follows `ids` for sure and then emits `end`."""
    return {current: {successor: SURE} for current, successor in zip(ids, [*ids[1:], end])}


def answering(tokenizer: Qwen3Tokenizer, answers: dict[str, float], after: str = ":") -> Qwen3Model:
    """A model that answers any prompt ending in `after` (a base model's math prompt ends in
    "Answer:") with one of `answers` ({text: logit}), then ends. The answers must share no token."""
    [last], eos = tokenizer.encode(after), tokenizer.eos_token_ids[0]
    script: dict[int | None, dict[int, float]] = {last: {}}
    for text, logit in answers.items():
        ids = tokenizer.encode(text)
        script[last][ids[0]] = logit
        script.update(chain(ids, eos))
    return scripted_model(script)
