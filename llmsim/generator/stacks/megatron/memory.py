"""Megatron's theoretical memory report after the first logged iteration (rank 0).

megatron/training/theoretical_memory_usage.py of core_v0.15.0, called from training_log
(training.py:1653-1657) with the run's microbatch count and verbose=True: the parameter counts
(12-186, the dense, non-MLA, non-MoE path), the activation branch (with SP only under selective
recomputation, 347-358), the activation footprint (189-260 with SP, 263-335 without) and the
total. MB is 1024^2 bytes.
"""

from __future__ import annotations

from llmsim.generator.stacks.context import Context
from llmsim.generator.stacks.megatron.counts import padded_vocab

MB = 1024 * 1024


def theoretical_lines(ctx: Context) -> list[str]:
    """The lines report_theoretical_memory prints, in order (the last ends with the f-string's
    newline: an empty line)."""
    c = ctx.config
    layout = ctx.plan.fit.layout
    h, tp, pp, dp = c.hidden, c.tp, c.pp, c.dp
    vocab = padded_vocab(c.vocab, tp)
    q_ratio = c.head_dim * c.heads / h
    groups = c.kv_heads if c.kv_heads < c.heads else c.heads
    self_attn = 2 * h * h * ((1 + groups / c.heads) * q_ratio)
    layer = 2 * h * (c.ffn * 1.5 + 2) + self_attn  # swiglu: 3/2 x ffn
    embedding = h * vocab
    embeddings = (2 if not c.tied_embeddings else 1) * embedding
    block = layer * c.layers + 2 * h
    total = block + embeddings
    lines = [
        f"Number of parameters in transformer block in billions: {block / 1e9: .2f}",
        f"Number of parameters in embedding layers in billions: {embeddings / 1e9:.2f}",
        f"Total number of parameters in billions: {total / 1e9:.2f}",
    ]
    most = (block / pp + embedding) / tp
    if not c.tied_embeddings and pp == 1:
        most += embedding / tp
    lines.append(f"Number of parameters in most loaded shard in billions: {most / 1e9:.4f}")
    if pp > 1:
        lines.append(
            f"Number of parameters in other shards in billions: {block / (pp * tp) / 1e9:.4f}"
        )
    weights = most * (6 + 12 / dp)  # the distributed optimizer
    sequence_parallel = tp > 1
    if sequence_parallel and layout.recompute == "selective":
        lines.append("compute_activation_memory with SP")
        activation = _with_sp(ctx, vocab, lines)
    else:
        lines.append("compute_activation_memory_without_sp")
        activation = _without_sp(ctx, vocab, lines)
    w, a = weights / MB, activation / MB
    lines.append(
        f"Theoretical memory footprints: weight and optimizer={w:.2f} MB, "
        f"activation={a:.2f} MB, total={w + a:.2f} MB"
    )
    lines.append("")
    return lines


def _in_flight(ctx: Context, memory: float, lines: list[str]) -> float:
    """The non-interleaved pipeline's discount and its `in-flight microbatches` line."""
    c = ctx.config
    if c.pp > 1:
        memory *= min(1, c.grad_accum / c.pp)
        lines.append(f"Number of in-flight microbatches: {min(c.grad_accum, c.pp)}")
    return memory


def _embedding_activations(ctx: Context) -> float:
    c = ctx.config
    s, b = c.seq_len, c.micro_batch
    return 8 * s * b * c.pp + s * b * c.hidden * c.pp


def _with_sp(ctx: Context, vocab: int, lines: list[str]) -> float:
    c = ctx.config
    s, b, h = c.seq_len, c.micro_batch, c.hidden
    per_layer = s * b * h * (18 + 4 * (c.ffn / h))
    lines.append(
        f"Activation memory footprint per transformer layer: {per_layer / MB / c.tp:.1f} MB"
    )
    memory = per_layer * c.layers + _embedding_activations(ctx)
    memory = _in_flight(ctx, memory, lines)
    if c.pp == 1:
        memory += s * b * h * 4 * (1 + vocab / h)
    return memory / c.tp


def _without_sp(ctx: Context, vocab: int, lines: list[str]) -> float:
    c = ctx.config
    s, b, h = c.seq_len, c.micro_batch, c.hidden
    per_layer = s * b * h * (10 + 24 / c.tp)
    lines.append(
        "Activation memory footprint per transformer layer (precise, without SP): "
        f"{per_layer / MB:.1f} MB"
    )
    memory = per_layer * c.layers + _embedding_activations(ctx)
    memory = _in_flight(ctx, memory, lines)
    if c.pp == 1:
        memory += (s * b * vocab / c.tp + s * b * h) * 2
    return memory * 1.05
