"""Sparse mixture-of-experts feed-forward of Qwen3-MoE (30B-A3B, 235B-A22B).

A linear router scores every expert per token; the softmax's top-k experts run, each a SwiGLU
like the dense MLP, and their outputs are summed with the router's weights (optionally
renormalised over the k chosen). Only the chosen experts compute: the (token, expert)
assignments are sorted by expert so that each expert's tokens form one contiguous slice, and
one grouped GEMM (torch's grouped_mm) runs every expert on its own slice, with no host sync.
Where grouped_mm cannot serve (training: it has no CPU backward; older torch; non-bf16 on
GPUs), a loop over the active experts does the same matmuls. Expert weights are stacked per
layer ([experts, out, in]); the checkpoint module maps them to and from the hub's per-expert
tensors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from reasoning.model.config import Qwen3Config
from reasoning.model.recompute import swiglu


def route(logits: torch.Tensor, top_k: int, normalize: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Router logits [tokens, experts] -> (weights, expert ids), both [tokens, top_k].

    Softmax in float32 over all experts, then the top k; `normalize` rescales those k to sum
    to one (Qwen3-MoE's norm_topk_prob). Weights come back in the logits' dtype, as in the
    reference implementation.
    """
    probs = torch.softmax(logits, dim=-1, dtype=torch.float32)
    weights, experts = probs.topk(top_k, dim=-1)
    if normalize:
        weights = weights / weights.sum(dim=-1, keepdim=True)
    return weights.to(logits.dtype), experts


class Experts(nn.Module):
    """`num_experts` SwiGLU experts, gate and up projections fused: gate_up_proj [E, 2I, H], down_proj [E, H, I]."""

    def __init__(self, config: Qwen3Config) -> None:
        super().__init__()
        experts, hidden, inner = config.num_experts, config.hidden_size, config.moe_intermediate_size
        self.gate_up_proj = nn.Parameter(torch.empty(experts, 2 * inner, hidden))
        self.down_proj = nn.Parameter(torch.empty(experts, hidden, inner))
        nn.init.normal_(self.gate_up_proj, std=0.02)
        nn.init.normal_(self.down_proj, std=0.02)

    def forward(self, x: torch.Tensor, weights: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
        """Sum over each token's k experts of weight * expert(x): x [N, H], weights/experts [N, k] -> [N, H]."""
        tokens, top_k = experts.shape
        flat = experts.flatten()
        order = flat.argsort(stable=True)  # assignments grouped by expert
        counts = torch.bincount(flat, minlength=self.gate_up_proj.shape[0])
        inputs = x[order // top_k]
        grad = torch.is_grad_enabled() and self.gate_up_proj.requires_grad
        if not grad and hasattr(F, "grouped_mm") and (x.device.type == "cpu" or x.dtype == torch.bfloat16):
            outputs = self._grouped(inputs, counts.cumsum(0).to(torch.int32))
        else:
            outputs = self._looped(inputs, counts.tolist(), grad)
        per_token = torch.empty_like(outputs).index_copy_(0, order, outputs).view(tokens, top_k, -1)
        # A fixed-order weighted sum over the k experts of each token (no atomics, deterministic).
        return (weights[:, None, :] @ per_token).squeeze(1)

    def _grouped(self, inputs: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
        """All experts in two grouped GEMMs; expert e takes rows ends[e-1]:ends[e] of `inputs`."""
        gate, up = F.grouped_mm(inputs, self.gate_up_proj.transpose(1, 2), offs=ends).chunk(2, dim=-1)
        return F.grouped_mm(swiglu(gate, up), self.down_proj.transpose(1, 2), offs=ends)

    def _looped(self, inputs: torch.Tensor, counts: list[int], grad: bool) -> torch.Tensor:
        """The same with one matmul pair per active expert (differentiable everywhere)."""
        outputs = torch.empty_like(inputs)
        gate_up, down = self.gate_up_proj, self.down_proj
        if grad:
            # Indexing a parameter once per expert would make autograd build one zero-filled
            # full-size gradient per expert; unbinding once gives a single stacked gradient.
            gate_up, down = gate_up.unbind(0), down.unbind(0)
        start = 0
        for expert, count in enumerate(counts):
            if count:
                stop = start + count
                gate, up = F.linear(inputs[start:stop], gate_up[expert]).chunk(2, dim=-1)
                outputs[start:stop] = F.linear(swiglu(gate, up), down[expert])
                start = stop
        return outputs


class SparseMoE(nn.Module):
    """The MoE feed-forward: router `gate` (as named in checkpoints) and the `experts`."""

    def __init__(self, config: Qwen3Config) -> None:
        super().__init__()
        self.top_k, self.norm_topk_prob = config.num_experts_per_tok, config.norm_topk_prob
        self.gate = nn.Linear(config.hidden_size, config.num_experts, bias=False)
        self.experts = Experts(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        weights, experts = route(self.gate(flat), self.top_k, self.norm_topk_prob)
        return self.experts(flat, weights, experts).view(x.shape)


# ---------------------------------------------------------------------------- training and sizes


@contextmanager
def record_router_logits(model: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Collect each sparse layer's router logits [tokens, experts] during forward passes in the block.

    For the load-balancing loss in training; hooks on the routers, so inference pays nothing.
    """
    logits: list[torch.Tensor] = []
    hooks = [
        module.gate.register_forward_hook(lambda _module, _inputs, output: logits.append(output))
        for module in model.modules()
        if isinstance(module, SparseMoE)
    ]
    try:
        yield logits
    finally:
        for hook in hooks:
            hook.remove()


def load_balancing_loss(
    router_logits: Sequence[torch.Tensor], top_k: int, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Switch Transformer's auxiliary loss (Fedus et al. 2021, eq. 4-6), as Qwen3-MoE trains with it.

    E * sum_e f_e * P_e, where f_e is how many of a token's k choices fall on expert e and P_e
    its router probability, both averaged over all layers and real tokens (padding excluded by
    `attention_mask` [batch, T]), as transformers computes it: top_k when routing is uniform.
    Scale it by the config's router_aux_loss_coef.
    """
    logits = torch.cat([layer.float() for layer in router_logits])  # [layers * tokens, E]
    num_experts = logits.shape[-1]
    probs = torch.softmax(logits, dim=-1)
    chosen = F.one_hot(probs.topk(top_k, dim=-1).indices, num_experts).sum(dim=1).float()  # [rows, E]
    if attention_mask is None:
        weight = torch.ones(logits.shape[0], 1, device=logits.device)
    else:
        weight = attention_mask.reshape(-1, 1).float().repeat(len(router_logits), 1)
    rows = weight.sum()
    fraction = (chosen * weight).sum(dim=0) / rows
    mean_prob = (probs * weight).sum(dim=0) / rows
    return num_experts * (fraction * mean_prob).sum()


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """(total, active per token) parameters: a token runs top_k of each sparse layer's experts."""
    total = sum(p.numel() for p in model.parameters())
    idle = 0
    for module in model.modules():
        if isinstance(module, SparseMoE):
            experts = module.experts.gate_up_proj.shape[0]
            per_expert = sum(p.numel() for p in module.experts.parameters()) // experts
            idle += per_expert * (experts - module.top_k)
    return total, total - idle
