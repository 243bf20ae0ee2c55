"""Parameter count and per-tensor sizes (Hugging Face names and order) from an architecture."""

from __future__ import annotations

from llmsim.generator.catalogue import ModelSpec
from llmsim.trace.config import RunConfig


def layer_tensors(spec: ModelSpec, i: int) -> list[tuple[str, int]]:
    """The tensors of decoder layer `i` as (HF name, element count), in state-dict order."""
    h, hd = spec.hidden, spec.dim_per_head
    q, kv = spec.heads * hd, spec.kv_heads * hd
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
    out += [
        (p + "self_attn.o_proj.weight", q * h),
        (p + "mlp.gate_proj.weight", h * spec.ffn),
        (p + "mlp.up_proj.weight", h * spec.ffn),
        (p + "mlp.down_proj.weight", spec.ffn * h),
        (p + "input_layernorm.weight", h),
        (p + "post_attention_layernorm.weight", h),
    ]
    return out


def tensors(spec: ModelSpec) -> list[tuple[str, int]]:
    """Every tensor of the model as (HF name, element count), in state-dict order."""
    out = [("model.embed_tokens.weight", spec.vocab * spec.hidden)]
    for i in range(spec.layers):
        out += layer_tensors(spec, i)
    out.append(("model.norm.weight", spec.hidden))
    if not spec.tied:
        out.append(("lm_head.weight", spec.vocab * spec.hidden))
    return out


def param_count(spec: ModelSpec) -> int:
    """Total parameters: embeddings + layers + final norm + lm_head unless tied."""
    per_layer = sum(n for _, n in layer_tensors(spec, 0))
    head = 0 if spec.tied else spec.vocab * spec.hidden
    return spec.vocab * spec.hidden + spec.layers * per_layer + spec.hidden + head


def size_label(params: int) -> str:
    """A model-card size label: "8.0B", "494M"."""
    if params >= 10**9:
        return f"{params / 1e9:.1f}B"
    return f"{params / 1e6:.0f}M"


def spec_of(config: RunConfig) -> ModelSpec:
    """The architecture recorded in a run config."""
    return ModelSpec(
        name=config.model,
        family=config.family,
        vocab=config.vocab,
        hidden=config.hidden,
        layers=config.layers,
        heads=config.heads,
        kv_heads=config.kv_heads,
        ffn=config.ffn,
        tied=config.tied_embeddings,
        qkv_bias=config.qkv_bias,
        head_dim=config.head_dim,
        invented=config.invented,
    )


def shards(
    spec: ModelSpec, max_bytes: int, bytes_per_param: int = 2
) -> list[list[tuple[str, int]]]:
    """Split the tensors greedily, in order, into shards of at most max_bytes (whole tensors).

    Like huggingface_hub's split_torch_state_dict_into_shards: a tensor that would overflow
    the current shard starts a new one; a tensor bigger than max_bytes gets a shard alone.
    Sizes are in bytes (bf16: 2 per parameter).
    """
    out: list[list[tuple[str, int]]] = []
    current: list[tuple[str, int]] = []
    size = 0
    for name, numel in tensors(spec):
        nbytes = numel * bytes_per_param
        if current and size + nbytes > max_bytes:
            out.append(current)
            current, size = [], 0
        current.append((name, nbytes))
        size += nbytes
    if current:
        out.append(current)
    return out
