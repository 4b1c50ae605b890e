"""Qwen3 architecture hyper-parameters: a frozen dataclass with a named preset per model size.

One config covers the dense models and the mixture-of-experts ones (Qwen3-30B-A3B,
235B-A22B): `num_experts == 0` means dense, and every MoE field then stays at its default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Qwen3Config:
    """Shape of a Qwen3 model. Base, reasoning, Instruct and Thinking checkpoints of one size share it.

    MoE fields (as in transformers' Qwen3MoeConfig): `num_experts` experts per sparse layer,
    `num_experts_per_tok` chosen per token, each a SwiGLU of width `moe_intermediate_size`;
    `norm_topk_prob` renormalises the chosen experts' router weights to sum to one. Layer i is
    sparse when (i + 1) % decoder_sparse_step == 0 and i is not in `mlp_only_layers`; other
    layers keep a dense MLP of width `intermediate_size`.
    """

    vocab_size: int = 151_936
    hidden_size: int = 1024
    intermediate_size: int = 3072
    num_layers: int = 28
    num_heads: int = 16
    num_kv_heads: int = 8
    head_dim: int = 128
    max_position_embeddings: int = 40_960
    rope_theta: float = 1_000_000.0
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = True
    num_experts: int = 0
    num_experts_per_tok: int = 0
    moe_intermediate_size: int = 0
    norm_topk_prob: bool = True
    decoder_sparse_step: int = 1
    mlp_only_layers: tuple[int, ...] = ()
    router_aux_loss_coef: float = 0.001

    def __post_init__(self) -> None:
        object.__setattr__(self, "mlp_only_layers", tuple(self.mlp_only_layers))
        if self.num_experts and not 0 < self.num_experts_per_tok <= self.num_experts:
            raise ValueError(f"num_experts_per_tok must be in 1..num_experts ({self.num_experts}), got {self.num_experts_per_tok}")
        if self.num_experts and (self.moe_intermediate_size <= 0 or self.decoder_sparse_step < 1):
            raise ValueError("an MoE config needs moe_intermediate_size > 0 and decoder_sparse_step >= 1")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_heads ({self.num_heads}) must be a multiple of num_kv_heads ({self.num_kv_heads})")
        if self.head_dim % 2:
            raise ValueError(f"head_dim must be even for rotary embeddings, got {self.head_dim}")

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    def is_sparse_layer(self, layer: int) -> bool:
        """Whether layer `layer` (0-based) has the mixture-of-experts feed-forward."""
        return self.is_moe and (layer + 1) % self.decoder_sparse_step == 0 and layer not in self.mlp_only_layers

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> Qwen3Config:
        """The preset for a size such as "0.6B" or "30B-A3B" (also "qwen3-0.6b", "Qwen/Qwen3-4B-Instruct-2507").

        Instruct/Thinking/Coder variants share their size's shape; the 2507 releases have their
        own presets (longer context, other RoPE theta).
        """
        key = name.lower().rsplit("/", 1)[-1].removeprefix("qwen3-").removeprefix("coder-")
        for variant in ("-base", "-instruct", "-thinking"):
            key = key.replace(variant, "")
        key = key.upper()
        if key not in PRESETS:
            raise ValueError(f"unknown Qwen3 preset {name!r}; known: {', '.join(PRESETS)}")
        return replace(PRESETS[key], **overrides)

    @classmethod
    def from_hf(cls, hf: dict[str, Any]) -> Qwen3Config:
        """Build from a Hugging Face config.json dict (model_type "qwen3" or "qwen3_moe")."""
        _check_types(hf)
        model_type = hf.get("model_type", "qwen3")
        if model_type not in ("qwen3", "qwen3_moe"):
            raise ValueError(f"expected a Qwen3 config (model_type 'qwen3' or 'qwen3_moe'), got model_type {model_type!r}")
        if hf.get("attention_bias") or hf.get("hidden_act", "silu") != "silu":
            raise ValueError("unsupported Qwen3 variant: attention_bias must be false and hidden_act 'silu'")
        # transformers < 5 writes rope_theta / rope_scaling; 5.x writes rope_parameters.
        rope = hf.get("rope_parameters") or {"rope_theta": hf.get("rope_theta"), **(hf.get("rope_scaling") or {})}
        if rope.get("rope_type", rope.get("type", "default")) != "default":
            raise ValueError(f"RoPE scaling {rope!r} is not supported yet (only the default rotary embedding)")
        try:
            rope_theta = rope["rope_theta"] or hf["rope_theta"]
            return cls(
                vocab_size=hf["vocab_size"],
                hidden_size=hf["hidden_size"],
                intermediate_size=hf["intermediate_size"],
                num_layers=hf["num_hidden_layers"],
                num_heads=hf["num_attention_heads"],
                num_kv_heads=hf.get("num_key_value_heads", hf["num_attention_heads"]),
                head_dim=hf.get("head_dim") or hf["hidden_size"] // hf["num_attention_heads"],
                max_position_embeddings=hf["max_position_embeddings"],
                rope_theta=float(rope_theta),
                rms_norm_eps=hf["rms_norm_eps"],
                tie_word_embeddings=hf.get("tie_word_embeddings", False),
                **(_moe_fields(hf) if model_type == "qwen3_moe" else {}),
            )
        except KeyError as missing:
            raise ValueError(f"config.json lacks the field {missing}") from None

    def to_hf(self, dtype: str = "bfloat16") -> dict[str, Any]:
        """The Hugging Face config.json dict that `transformers` loads (Qwen3ForCausalLM or Qwen3MoeForCausalLM)."""
        moe = {
            "architectures": ["Qwen3MoeForCausalLM"],
            "model_type": "qwen3_moe",
            "num_experts": self.num_experts,
            "num_experts_per_tok": self.num_experts_per_tok,
            "moe_intermediate_size": self.moe_intermediate_size,
            "norm_topk_prob": self.norm_topk_prob,
            "decoder_sparse_step": self.decoder_sparse_step,
            "mlp_only_layers": list(self.mlp_only_layers),
            "router_aux_loss_coef": self.router_aux_loss_coef,
            "output_router_logits": False,
        }
        return {
            "architectures": ["Qwen3ForCausalLM"],
            "model_type": "qwen3",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads,
            "num_key_value_heads": self.num_kv_heads,
            "head_dim": self.head_dim,
            "max_position_embeddings": self.max_position_embeddings,
            "rope_theta": self.rope_theta,
            "rope_scaling": None,
            "rms_norm_eps": self.rms_norm_eps,
            "tie_word_embeddings": self.tie_word_embeddings,
            "hidden_act": "silu",
            "attention_bias": False,
            "attention_dropout": 0.0,
            "use_sliding_window": False,
            "bos_token_id": 151_643,
            "eos_token_id": 151_645,
            "torch_dtype": dtype,
            "use_cache": True,
            **(moe if self.is_moe else {}),
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (for logs and metadata)."""
        return asdict(self)


# The config.json fields we read, and what each must hold; None (JSON null) means "not set".
_SIZES = (
    "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
    "head_dim", "max_position_embeddings", "decoder_sparse_step",
)  # fmt: skip
_COUNTS = ("num_experts", "num_local_experts", "num_experts_per_tok", "moe_intermediate_size")  # 0 in dense configs
_NUMBERS = ("rope_theta", "rms_norm_eps", "router_aux_loss_coef")
_FLAGS = ("tie_word_embeddings", "norm_topk_prob", "attention_bias")
_TEXTS = ("model_type", "hidden_act")


def _check_types(hf: dict[str, Any]) -> None:
    """Reject a config.json field of the wrong type, naming it (a string "64" would fail much later)."""
    if not isinstance(hf, dict):
        raise ValueError(f"expected a JSON object, got a JSON {type(hf).__name__}")
    checks = [
        *((name, _is_int, "a positive integer") for name in _SIZES),
        *((name, lambda v: _is_int(v, 0), "an integer >= 0") for name in _COUNTS),
        *((name, _is_number, "a number") for name in _NUMBERS),
        *((name, lambda v: isinstance(v, bool), "true or false") for name in _FLAGS),
        *((name, lambda v: isinstance(v, str), "a string") for name in _TEXTS),
        ("mlp_only_layers", lambda v: isinstance(v, list) and all(_is_int(i, 0) for i in v), "a list of layer numbers"),
        ("rope_scaling", lambda v: isinstance(v, dict), "an object"),
        ("rope_parameters", lambda v: isinstance(v, dict), "an object"),
    ]
    for name, valid, words in checks:
        value = hf.get(name)
        if value is not None and not valid(value):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            raise ValueError(f"field {name!r} must be {words}, got {shown}")


def _is_int(value: Any, minimum: int = 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _moe_fields(hf: dict[str, Any]) -> dict[str, Any]:
    """The MoE fields of a qwen3_moe config.json (transformers 5 writes num_local_experts)."""
    return dict(
        num_experts=hf["num_experts"] if "num_experts" in hf else hf["num_local_experts"],
        num_experts_per_tok=hf["num_experts_per_tok"],
        moe_intermediate_size=hf["moe_intermediate_size"],
        norm_topk_prob=hf.get("norm_topk_prob", False),
        decoder_sparse_step=hf.get("decoder_sparse_step", 1),
        mlp_only_layers=tuple(hf.get("mlp_only_layers") or ()),
        router_aux_loss_coef=hf.get("router_aux_loss_coef", 0.001),
    )


# Qwen3-30B-A3B (config.json of the release): every layer sparse, 128 experts, 8 per token.
_30B_A3B = Qwen3Config(
    hidden_size=2048, intermediate_size=6144, num_layers=48, num_heads=32, num_kv_heads=4, tie_word_embeddings=False,
    num_experts=128, num_experts_per_tok=8, moe_intermediate_size=768,
)  # fmt: skip
# The 2507 releases read 256k tokens (262,144) with a larger RoPE base (their config.json).
_LONG_CONTEXT = dict(max_position_embeddings=262_144)

# The published Qwen3 sizes (Qwen3 technical report, Tables 1-2; config.json of each release).
# The three smallest dense ones tie the LM head to the token embedding; 8B and up have their own.
PRESETS: dict[str, Qwen3Config] = {
    "0.6B": Qwen3Config(),
    "1.7B": Qwen3Config(hidden_size=2048, intermediate_size=6144),
    "4B": Qwen3Config(hidden_size=2560, intermediate_size=9728, num_layers=36, num_heads=32),
    "8B": Qwen3Config(hidden_size=4096, intermediate_size=12288, num_layers=36, num_heads=32, tie_word_embeddings=False),
    "14B": Qwen3Config(hidden_size=5120, intermediate_size=17408, num_layers=40, num_heads=40, tie_word_embeddings=False),
    "32B": Qwen3Config(hidden_size=5120, intermediate_size=25600, num_layers=64, num_heads=64, tie_word_embeddings=False),
    "30B-A3B": _30B_A3B,
    "235B-A22B": replace(
        _30B_A3B, hidden_size=4096, intermediate_size=12288, num_layers=94, num_heads=64, moe_intermediate_size=1536
    ),
    "4B-2507": Qwen3Config(hidden_size=2560, intermediate_size=9728, num_layers=36, num_heads=32, rope_theta=5e6, **_LONG_CONTEXT),
    "30B-A3B-2507": replace(_30B_A3B, rope_theta=1e7, **_LONG_CONTEXT),
}
