"""Qwen3 architecture hyper-parameters: a frozen dataclass with a named preset per model size."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Qwen3Config:
    """Shape of a dense Qwen3 model. Base and reasoning checkpoints of one size share it."""

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

    def __post_init__(self) -> None:
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_heads ({self.num_heads}) must be a multiple of num_kv_heads ({self.num_kv_heads})")
        if self.head_dim % 2:
            raise ValueError(f"head_dim must be even for rotary embeddings, got {self.head_dim}")

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> Qwen3Config:
        """The preset for a size such as "0.6B" (also accepts "qwen3-0.6b", "Qwen/Qwen3-0.6B-Base")."""
        key = name.lower().rsplit("/", 1)[-1].removeprefix("qwen3-").removesuffix("-base").upper()
        if key not in PRESETS:
            raise ValueError(f"unknown Qwen3 preset {name!r}; known: {', '.join(PRESETS)}")
        return replace(PRESETS[key], **overrides)

    @classmethod
    def from_hf(cls, hf: dict[str, Any]) -> Qwen3Config:
        """Build from a Hugging Face config.json dict (model_type "qwen3")."""
        if hf.get("model_type", "qwen3") != "qwen3":
            raise ValueError(f"expected a Qwen3 config (model_type 'qwen3'), got model_type {hf.get('model_type')!r}")
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
            )
        except KeyError as missing:
            raise ValueError(f"config.json lacks the field {missing}") from None

    def to_hf(self, dtype: str = "bfloat16") -> dict[str, Any]:
        """The Hugging Face config.json dict that `transformers` loads as Qwen3ForCausalLM."""
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
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (for logs and metadata)."""
        return asdict(self)


# The published dense Qwen3 sizes (Qwen3 technical report, Table 1; config.json of each release).
# The three smallest tie the LM head to the token embedding; 8B and up have their own.
PRESETS: dict[str, Qwen3Config] = {
    "0.6B": Qwen3Config(),
    "1.7B": Qwen3Config(hidden_size=2048, intermediate_size=6144),
    "4B": Qwen3Config(hidden_size=2560, intermediate_size=9728, num_layers=36, num_heads=32),
    "8B": Qwen3Config(hidden_size=4096, intermediate_size=12288, num_layers=36, num_heads=32, tie_word_embeddings=False),
    "14B": Qwen3Config(hidden_size=5120, intermediate_size=17408, num_layers=40, num_heads=40, tie_word_embeddings=False),
    "32B": Qwen3Config(hidden_size=5120, intermediate_size=25600, num_layers=64, num_heads=64, tie_word_embeddings=False),
}
