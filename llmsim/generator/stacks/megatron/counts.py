"""How Megatron-LM counts: its padded vocabulary, its FLOPs per token and each rank's parameters.

Sources: megatron/training/training.py `num_floating_point_operations` and
megatron/core/tensor_parallel (core_v0.15.0).
"""

from __future__ import annotations

import math

from llmsim.generator.catalog.architecture import ModelSpec


def padded_vocab(vocab: int, tp: int, divisible_by: int = 128) -> int:
    """Megatron's padded vocabulary: a multiple of make_vocab_size_divisible_by x TP."""
    multiple = divisible_by * tp
    return math.ceil(vocab / multiple) * multiple


def flops_per_token(spec: ModelSpec, seq_len: int, padded_vocab: int) -> float:
    """Megatron's `num_floating_point_operations` per token (training.py, core 0.15).

    3 (fwd + bwd) x 2 (multiply-add) x 2 per matmul pass: SwiGLU MLP, GQA attention with the
    causal half of the score matmuls, and the logits over the padded vocabulary.
    """
    h, layers, a = spec.hidden_size, spec.num_layers, spec.num_heads
    ratio = spec.dim_per_head * a / h
    mlp = 12.0 * layers * h * spec.intermediate_size * 1.5
    attn = 12.0 * layers * h * h * (1 + spec.num_kv_heads / a + seq_len / h / 2) * ratio
    return mlp + attn + 6.0 * h * padded_vocab


def rank_params(spec: ModelSpec, tp: int, layers: int, first: bool, last: bool) -> int:
    """Parameters one (tensor, pipeline) rank holds, as Megatron counts and prints them.

    Column/row-parallel weights are split over TP; the layer norms (fused into the TE linear
    layers) are replicated; the vocabulary-parallel embedding sits on the first stage, the final
    norm and the untied output layer on the last (a tied output shares the embedding when the
    model has one stage).
    """
    h, hd = spec.hidden_size, spec.dim_per_head
    q, kv = spec.num_heads * hd, spec.num_kv_heads * hd
    qkv = h * (q + 2 * kv) // tp + ((q + 2 * kv) // tp if spec.qkv_bias else 0)
    per_layer = qkv + q * h // tp + 2 * h * spec.intermediate_size // tp
    per_layer += spec.intermediate_size * h // tp + 2 * h
    total = layers * per_layer
    vocab = padded_vocab(spec.vocab_size, tp) // tp * h
    if first:
        total += vocab
    if last:
        total += h
        if not spec.tied_embeddings or not first:
            total += vocab
    return total
