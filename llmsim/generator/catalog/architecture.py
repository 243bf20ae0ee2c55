"""A model's shape (ModelSpec, with its Hub facts) and what follows from it: parameters, tensors,
shards, the 6N FLOPs per token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# transformers 4.x `save_pretrained(max_shard_size="5GB")` (5.x raised it to 50GB).
MAX_SHARD_BYTES: Final = 5 * 10**9
MAX_SHARD_LABEL: Final = "5GB"
BF16_BYTES: Final = 2  # bytes per parameter of an exported bf16 weight


@dataclass(frozen=True)
class HubFacts:
    """What a real model's Hub repository says: where it lives and its config.json values."""

    hub_id: str  # e.g. "meta-llama/Meta-Llama-3-8B"
    weight_files: int  # safetensors files in the repo (1: a single model.safetensors)
    max_position_embeddings: int
    rope_theta: float
    rms_norm_eps: float
    bos_token_id: int
    eos_token_id: int
    rope_scaling: tuple[tuple[str, float | int | str], ...] = ()  # () is `null`
    sliding_window: int | None = None  # Mistral/Qwen2 keys (None prints `null`)
    tokenizer_bytes: int = 0
    pretrain_tokens: int = 0  # the published pretraining token budget (0: not disclosed)


@dataclass(frozen=True)
class ModelSpec:
    """A decoder-only transformer (Llama-style: GQA attention, SwiGLU MLP, RMSNorm).

    Field names say what they are: `vocab_size` is the number of token ids, `hidden_size` the
    width of the residual stream, `intermediate_size` the SwiGLU width.
    """

    name: str
    family: str  # "llama", "mistral", "qwen2" or an invented one
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    head_dim: int = 0  # 0: hidden_size // num_heads
    tied_embeddings: bool = False
    qkv_bias: bool = False
    hub: HubFacts | None = None  # None: an invented model
    max_position_embeddings: int = 8192  # invented models (real ones: hub.max_position_embeddings)

    @property
    def params(self) -> int:
        """Parameter count, from the shape."""
        return param_count(self)

    @property
    def hub_id(self) -> str:
        """The Hub repository of a real model ("" for invented ones)."""
        return self.hub.hub_id if self.hub else ""

    @property
    def invented(self) -> bool:
        """True for the made-up models (no Hub repository)."""
        return self.hub is None

    @property
    def published_tokens(self) -> int:
        """Tokens its base model was pretrained on, as published (0: invented or undisclosed)."""
        return self.hub.pretrain_tokens if self.hub else 0

    @property
    def dim_per_head(self) -> int:
        """Attention head dimension (explicit, or hidden_size / num_heads)."""
        return self.head_dim or self.hidden_size // self.num_heads

    @property
    def max_positions(self) -> int:
        """max_position_embeddings of the config (the Hub's value for real models)."""
        return self.hub.max_position_embeddings if self.hub else self.max_position_embeddings

    @property
    def rope_theta(self) -> float:
        """RoPE base: the Hub config's, 500000 (Llama 3's) for invented models."""
        return self.hub.rope_theta if self.hub else 500000.0

    @property
    def rms_norm_eps(self) -> float:
        """RMSNorm epsilon: the Hub config's, 1e-05 for invented models."""
        return self.hub.rms_norm_eps if self.hub else 1e-05

    @property
    def tokenizer_bytes(self) -> int:
        """Size of tokenizer.json: the Hub's for real models, estimated for invented ones."""
        if self.hub and self.hub.tokenizer_bytes:
            return self.hub.tokenizer_bytes
        return self.vocab_size * 64 + 1_217


def layer_tensors(spec: ModelSpec, i: int) -> list[tuple[str, int]]:
    """The tensors of decoder layer `i` as (HF name, element count), in state-dict order."""
    h, hd = spec.hidden_size, spec.dim_per_head
    q, kv = spec.num_heads * hd, spec.num_kv_heads * hd
    p = f"model.layers.{i}."
    out: list[tuple[str, int]] = [(p + "self_attn.q_proj.weight", h * q)]
    if spec.qkv_bias:
        out.append((p + "self_attn.q_proj.bias", q))
    out.append((p + "self_attn.k_proj.weight", h * kv))
    if spec.qkv_bias:
        out.append((p + "self_attn.k_proj.bias", kv))
    out.append((p + "self_attn.v_proj.weight", h * kv))
    if spec.qkv_bias:
        out.append((p + "self_attn.v_proj.bias", kv))
    f = spec.intermediate_size
    out += [
        (p + "self_attn.o_proj.weight", q * h),
        (p + "mlp.gate_proj.weight", h * f),
        (p + "mlp.up_proj.weight", h * f),
        (p + "mlp.down_proj.weight", f * h),
        (p + "input_layernorm.weight", h),
        (p + "post_attention_layernorm.weight", h),
    ]
    return out


def tensors(spec: ModelSpec) -> list[tuple[str, int]]:
    """Every tensor of the model as (HF name, element count), in state-dict order."""
    out = [("model.embed_tokens.weight", spec.vocab_size * spec.hidden_size)]
    for i in range(spec.num_layers):
        out += layer_tensors(spec, i)
    out.append(("model.norm.weight", spec.hidden_size))
    if not spec.tied_embeddings:
        out.append(("lm_head.weight", spec.vocab_size * spec.hidden_size))
    return out


def layer_params(spec: ModelSpec) -> int:
    """Parameters of one decoder layer."""
    return sum(n for _, n in layer_tensors(spec, 0))


def embedding_params(spec: ModelSpec) -> int:
    """Parameters of the input embedding (the output layer has as many unless tied)."""
    return spec.vocab_size * spec.hidden_size


def param_count(spec: ModelSpec) -> int:
    """Total parameters: embeddings + layers + final norm + lm_head unless tied."""
    head = 0 if spec.tied_embeddings else embedding_params(spec)
    return embedding_params(spec) + spec.num_layers * layer_params(spec) + spec.hidden_size + head


def shards(spec: ModelSpec, max_bytes: int = MAX_SHARD_BYTES) -> list[list[tuple[str, int]]]:
    """Split the bf16 tensors greedily, in order, into shards of at most max_bytes.

    Like huggingface_hub's split_torch_state_dict_into_shards: a tensor that would overflow
    the current shard starts a new one; a tensor bigger than max_bytes gets a shard alone.
    Each entry is (tensor name, bytes).
    """
    out: list[list[tuple[str, int]]] = []
    current: list[tuple[str, int]] = []
    size = 0
    for name, numel in tensors(spec):
        nbytes = numel * BF16_BYTES
        if current and size + nbytes > max_bytes:
            out.append(current)
            current, size = [], 0
        current.append((name, nbytes))
        size += nbytes
    if current:
        out.append(current)
    return out


def shard_names(n: int) -> list[str]:
    """Hugging Face weight file names for n shards."""
    if n == 1:
        return ["model.safetensors"]
    return [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]


def six_n(spec: ModelSpec) -> float:
    """The 6N model FLOPs per token (what MFU is measured against where a stack prints none)."""
    return 6.0 * param_count(spec)
