"""Qwen3 decoder in plain PyTorch, dense or mixture-of-experts.

Read top to bottom in the order data flows: RMSNorm, rotary embeddings, attention with
QK-norm, SwiGLU MLP (or the sparse mixture-of-experts feed-forward of `moe.py`), the block,
the model. Module names follow the Hugging Face checkpoints (`layers.0.self_attn.q_proj`, ...)
so loading is a prefix strip, not a translation table (experts aside: see `checkpoint`).
The numerics follow the reference implementation (norms and RoPE tables in float32, cast
back before the matmuls), so logits agree to the last bit pattern that dtype allows.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from reasoning.model.cache import KVCache, PrefixKV
from reasoning.model.config import Qwen3Config
from reasoning.model.moe import SparseMoE
from reasoning.model.packed import Linear, fused, linear
from reasoning.model.paged import PagedKV
from reasoning.model.recompute import rms_norm, swiglu


class RMSNorm(nn.Module):
    """Root-mean-square norm, computed in float32 whatever the weight dtype."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x, self.weight, self.eps)


def rope_cos_sin(positions: torch.Tensor, head_dim: int, theta: float, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    """cos and sin of the rotary angles for [batch, T] positions -> two [batch, 1, T, head_dim].

    Computed per forward from the positions themselves (a few hundred flops), so there is no
    table to size, no buffer to materialise after loading, and any per-row position works.
    """
    exponents = torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.int64).float() / head_dim
    inv_freq = 1.0 / (theta**exponents)
    angles = positions[..., None].float() * inv_freq  # [batch, T, head_dim / 2]
    angles = torch.cat((angles, angles), dim=-1)[:, None]
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate [batch, heads, T, head_dim] by the angles (halves layout, as in Qwen/Llama)."""
    first, second = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-second, first), dim=-1) * sin


def attention_bias(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """A boolean attention mask as the additive one attention makes of it (0 where a key is
    seen, -inf where hidden): made once per forward, not once per layer; the same values."""
    if mask is None:
        return None
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(~mask, -math.inf)


class CacheSlot(NamedTuple):
    """Where one layer reads and writes the cache during a forward pass."""

    cache: KVCache | PagedKV | PrefixKV
    layer: int
    positions: torch.Tensor  # [batch, T]
    kv_len: int  # cache positions attention reads: max position + 1


class Attention(nn.Module):
    """Grouped-query attention with RMSNorm on each head's queries and keys (QK-norm)."""

    def __init__(self, config: Qwen3Config) -> None:
        super().__init__()
        self.num_heads, self.num_kv_heads, self.head_dim = config.num_heads, config.num_kv_heads, config.head_dim
        self.q_proj = Linear(config.hidden_size, config.num_heads * config.head_dim, bias=False)
        self.k_proj = Linear(config.hidden_size, config.num_kv_heads * config.head_dim, bias=False)
        self.v_proj = Linear(config.hidden_size, config.num_kv_heads * config.head_dim, bias=False)
        self.o_proj = Linear(config.num_heads * config.head_dim, config.hidden_size, bias=False)
        self.q_norm = RMSNorm(config.head_dim, config.rms_norm_eps)
        self.k_norm = RMSNorm(config.head_dim, config.rms_norm_eps)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, ...], mask: torch.Tensor | None, slot: CacheSlot | None) -> torch.Tensor:
        batch, length, _ = x.shape
        q, k, v = fused(x, (self.q_proj, self.k_proj, self.v_proj))
        q, k = self.norm_and_rotate(q.view(batch, length, -1, self.head_dim), k.view(batch, length, -1, self.head_dim), rope)
        v = v.view(batch, length, self.num_kv_heads, self.head_dim).transpose(1, 2)
        if slot is not None:
            k, v = slot.cache.write(slot.layer, k, v, slot.positions, slot.kv_len)
        group = self.num_heads // self.num_kv_heads
        if length == 1 and group > 1:
            # Decoding one token: the query heads that share a key/value head become that head's
            # `group` queries, so attention reads each key once with no GQA expansion (about 4x
            # faster than enable_gqa in PyTorch's CPU kernel; the same arithmetic per query).
            grouped = q.reshape(batch, self.num_kv_heads, group, self.head_dim)
            out = F.scaled_dot_product_attention(grouped, k, v, attn_mask=mask).reshape(batch, self.num_heads, 1, self.head_dim)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None and length > 1, enable_gqa=group > 1)
        return self.o_proj(out.transpose(1, 2).reshape(batch, length, -1))


    def norm_and_rotate(self, q: torch.Tensor, k: torch.Tensor, rope: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """QK-norm and rotary embedding: [batch, T, heads, head_dim] queries and keys -> [batch,
        heads, T, head_dim]. Without autograd (decoding) their heads go through side by side:
        11 operations fewer per layer, and every head's arithmetic is its own either way, so the
        bits are the same. Training keeps one pass each, so each norm's weight gradient sums in
        its own order and training runs stay as they were."""
        if torch.is_grad_enabled():
            return apply_rope(self.q_norm(q).transpose(1, 2), *rope), apply_rope(self.k_norm(k).transpose(1, 2), *rope)
        weight = torch.cat((self.q_norm.weight.expand(self.num_heads, -1), self.k_norm.weight.expand(self.num_kv_heads, -1)))
        heads = rms_norm(torch.cat((q, k), dim=2), weight, self.q_norm.eps).transpose(1, 2)
        return apply_rope(heads, *rope).split((self.num_heads, self.num_kv_heads), dim=1)


class MLP(nn.Module):
    """SwiGLU feed-forward: down(silu(gate(x)) * up(x))."""

    def __init__(self, config: Qwen3Config) -> None:
        super().__init__()
        self.gate_proj = Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(swiglu(*fused(x, (self.gate_proj, self.up_proj))))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: Qwen3Config, layer: int = 0) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = Attention(config)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = SparseMoE(config) if config.is_sparse_layer(layer) else MLP(config)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, ...], mask: torch.Tensor | None, slot: CacheSlot | None) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), rope, mask, slot)
        return x + self.mlp(self.post_attention_layernorm(x))


class Qwen3Model(nn.Module):
    """Token embedding, `num_layers` blocks, final norm, LM head (tied to the embedding or not)."""

    def __init__(self, config: Qwen3Config) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(Block(config, layer) for layer in range(config.num_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        # Tied models have no head of their own; the checkpoint then has no lm_head tensor either.
        self.lm_head = None if config.tie_word_embeddings else Linear(config.hidden_size, config.vocab_size, bias=False)
        self.apply(_init_weights)

    def forward(
        self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None, cache: KVCache | PagedKV | PrefixKV | None = None
    ) -> torch.Tensor:
        """The final norm's output [batch, T, hidden] for token ids [batch, T]; `logits` applies the head.

        The head is left to the caller so it runs only where logits are wanted: generation takes
        each row's last position (`last_positions`) and never builds a [batch, T, vocab] tensor
        during prefill; training takes the completion positions (or applies `head_weight` in
        chunks: `reasoning.logprobs`).
        attention_mask: [batch, T], 1 for real tokens and 0 for padding. Without a cache,
        padding may sit on either side (positions then count real tokens only). With a KVCache,
        pad on the right: each row continues at its own cached length, and only its real
        tokens extend that length. A PagedKV is the same with blocks (pad on the right).
        With a PrefixKV (training on shared prompts), attention_mask is [batch, P + T]: the
        prefix's keys, then these tokens; pad the prefix on the left and the tokens on the right.
        """
        if isinstance(cache, KVCache):
            positions, mask, kv_len = cached_layout(ids, attention_mask, cache)
        elif isinstance(cache, PagedKV):
            positions, mask, kv_len = paged_layout(ids, cache)
        else:
            positions, mask, kv_len = sequence_layout(ids, attention_mask, 0 if cache is None else cache.length)
        rope = rope_cos_sin(positions, self.config.head_dim, self.config.rope_theta, self.embed_tokens.weight.dtype)
        mask = attention_bias(mask, self.embed_tokens.weight.dtype)
        x = self.embed_tokens(ids)
        for index, layer in enumerate(self.layers):
            slot = None if cache is None else CacheSlot(cache, index, positions, kv_len)
            x = layer(x, rope, mask, slot)
        return self.norm(x)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """The LM head: [..., hidden] final-norm states -> [..., vocab] logits."""
        return linear(hidden, self.head_weight)

    @property
    def head_weight(self) -> torch.Tensor:
        """The LM head's [vocab, hidden] weight: the embedding's when tied."""
        return self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight


def last_positions(hidden: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Each row's state at its last real token: [batch, T, hidden] -> [batch, hidden].

    attention_mask as given to the forward (its last T columns are the tokens'); padding on
    either side.
    """
    if attention_mask is None:
        return hidden[:, -1]
    length = hidden.shape[1]
    last = length - 1 - attention_mask[:, -length:].flip(1).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def cached_layout(
    ids: torch.Tensor, attention_mask: torch.Tensor | None, cache: KVCache
) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """Appending to a KVCache: positions [batch, T], boolean mask [batch, 1, T, keys] (None where
    plain causal attention is exact) and the cache positions read; advances each row's length.

    Row r's tokens go to positions lengths[r], lengths[r] + 1, ... and see every cached key up
    to their own; only real tokens (right padding) extend a row.
    """
    length = ids.shape[1]
    if attention_mask is not None and bool((attention_mask[:, 1:] > attention_mask[:, :-1]).any()):
        raise ValueError("with a KV cache, padding must be on the right of each row")
    positions = cache.lengths[:, None] + torch.arange(length, device=ids.device)
    kv_len = int(positions.max()) + 1
    if kv_len > cache.max_len:
        raise ValueError(f"sequence of {kv_len} tokens does not fit the KV cache (max_len {cache.max_len})")
    # The layers write at `positions`, never reading the lengths, so they can move on already.
    cache.lengths += length if attention_mask is None else attention_mask.sum(dim=1)
    if kv_len == length:  # every row starts empty: causal over the new tokens is exact
        return positions, None, kv_len
    keys = torch.arange(kv_len, device=ids.device)
    return positions, (keys <= positions[:, :, None])[:, None], kv_len


def paged_layout(ids: torch.Tensor, cache: PagedKV) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """Appending to a PagedKV (right padding): positions [batch, T], boolean mask [batch, 1, T,
    keys] (None when every row starts empty: plain causal attention is exact), keys read.

    Unlike `cached_layout` it reads nothing back to the host: the keys read are the block
    tables' width, known from their shape, and padding needs no check, since a padding token
    sits after its row's real ones and only writes where nothing real is read.
    """
    length = ids.shape[1]
    positions = cache.lengths[:, None] + torch.arange(length, device=ids.device)
    if cache.fresh:
        return positions, None, length
    keys = torch.arange(cache.key_positions, device=ids.device)
    return positions, (keys <= positions[:, :, None])[:, None], cache.key_positions


def sequence_layout(
    ids: torch.Tensor, attention_mask: torch.Tensor | None, prefix: int = 0
) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """A whole sequence after `prefix` keys (a PrefixKV's; none without a cache): positions
    [batch, T], boolean mask [batch, 1, T, keys] (None where plain causal attention is exact), keys.

    The keys are attention_mask's columns, the T queries its last ones; positions count real
    tokens, so left padding is safe. Right padding needs no mask: padding queries' outputs are
    left unused.
    """
    batch, length = ids.shape
    if not prefix and (attention_mask is None or bool((attention_mask[:, 1:] <= attention_mask[:, :-1]).all())):
        # No padding, or padding on the right only: plain causal attention is exact for every real
        # token (none sees a later position), and the fused kernels keep no attention weights.
        return torch.arange(length, device=ids.device).expand(batch, -1), None, length
    if attention_mask is None:
        attention_mask = torch.ones(batch, prefix + length, dtype=torch.long, device=ids.device)
    positions = (attention_mask.long().cumsum(dim=1) - 1).clamp(min=0)[:, -length:]
    keys = attention_mask.shape[1]
    query_at = torch.arange(keys - length, keys, device=ids.device)[:, None]  # each query's own key
    key_at = torch.arange(keys, device=ids.device)
    real_keys = attention_mask.bool()[:, None, None, :]
    # A padding query may see no real key at all; letting it see itself avoids NaN rows.
    return positions, ((key_at <= query_at) & real_keys) | (key_at == query_at), keys


def _init_weights(module: nn.Module) -> None:
    """Random initialisation as in the reference (normal, std 0.02); norms start at one."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
