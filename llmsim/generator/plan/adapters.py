"""LoRA adapters and QLoRA's 4-bit base: parameter counts, bytes, and PEFT's saved files.

Sources (pinned): PEFT 0.17.1 `peft_model.py:836-851` (`print_trainable_parameters`: the count
of every parameter, 4-bit ones at their dense size, and of the trainable ones, `trainable%`
to 4 decimals), `tuners/lora` (A: r x d_in, B: d_out x r, no bias), `config.py:108`
(`adapter_config.json` as `json.dumps(indent=2, sort_keys=True)`, no trailing newline; the
target modules a set, so in hash order); bitsandbytes 0.48.1 NF4 (`nn/modules.py:224` blocks
of 64 weights with an fp32 absmax each; double quantisation stores the absmax as uint8 with an
fp32 constant per 256 of them, `functional.py:875`). PEFT keeps the adapters in fp32
(`autocast_adapter_dtype=True`), so `adapter_model.safetensors` holds 4 bytes a parameter.
"""

from __future__ import annotations

import json
from typing import Final

import numpy as np

from llmsim.generator.catalog.architecture import ModelSpec, embedding_params, param_count
from llmsim.generator.plan.postspec import LoraSpec
from llmsim.trace.vocab import Adapter

ADAPTER_BYTES: Final = 4  # fp32 adapters (PEFT's autocast_adapter_dtype)
NF4_BYTES: Final = 0.5  # 4 bits a weight
ABSMAX_BYTES: Final = 4.0 / 64  # an fp32 absmax per block of 64
DOUBLE_QUANT_BYTES: Final = 1.0 / 64 + 4.0 / (64 * 256)  # uint8 absmax + fp32 per 256 blocks
NORM_BYTES: Final = 4  # prepare_model_for_kbit_training casts the norms to fp32
BF16: Final = 2
# safetensors' header: 8 bytes of length, then a JSON entry per tensor (name, dtype, shape,
# offsets) padded to 8 bytes; ~150 bytes for a name like base_model.model.model.layers.31.mlp.
HEADER_BASE: Final = 8 + 30  # length prefix and {"__metadata__":{"format":"pt"}}
HEADER_ENTRY: Final = 88  # per tensor, besides its name


def module_dims(spec: ModelSpec) -> dict[str, tuple[int, int]]:
    """(d_in, d_out) of each linear module of a decoder layer."""
    h, f = spec.hidden_size, spec.intermediate_size
    q, kv = spec.num_heads * spec.dim_per_head, spec.num_kv_heads * spec.dim_per_head
    return {
        "q_proj": (h, q),
        "k_proj": (h, kv),
        "v_proj": (h, kv),
        "o_proj": (q, h),
        "gate_proj": (h, f),
        "up_proj": (h, f),
        "down_proj": (f, h),
    }


def lora_params(spec: ModelSpec, lora: LoraSpec) -> int:
    """Trainable parameters: r x (d_in + d_out) for every targeted module of every layer."""
    dims = module_dims(spec)
    per_layer = sum(lora.rank * (dims[m][0] + dims[m][1]) for m in lora.targets)
    return per_layer * spec.num_layers


def peft_line(trainable: int, total: int) -> str:
    """PEFT's `print_trainable_parameters` line (`total`: base and adapters)."""
    return (
        f"trainable params: {trainable:,d} || all params: {total:,d} || "
        f"trainable%: {100 * trainable / total:.4f}"
    )


def quantized_params(spec: ModelSpec) -> int:
    """Weights of the layers' linear modules: what bitsandbytes turns into NF4."""
    per_layer = sum(d_in * d_out for d_in, d_out in module_dims(spec).values())
    return per_layer * spec.num_layers


def base_bytes(spec: ModelSpec, adapter: Adapter, double_quant: bool) -> float:
    """Bytes of the frozen base on each GPU: bf16, or QLoRA's NF4 linears with the embeddings
    and lm_head in bf16 and the norms in fp32."""
    n = param_count(spec)
    if adapter != "qlora":
        return float(BF16 * n)
    quant = quantized_params(spec)
    per_weight = NF4_BYTES + (DOUBLE_QUANT_BYTES if double_quant else ABSMAX_BYTES)
    norms = (2 * spec.num_layers + 1) * spec.hidden_size
    rest = n - quant - norms  # embeddings, lm_head, biases
    return quant * per_weight + BF16 * rest + NORM_BYTES * norms


def lookup_params(spec: ModelSpec) -> int:
    """The input embedding: a lookup, not a matmul (the output layer is one even when tied)."""
    return 0 if spec.tied_embeddings else embedding_params(spec)


def tensor_names(spec: ModelSpec, lora: LoraSpec) -> list[tuple[str, int]]:
    """The adapter's tensors as PEFT saves them (adapter name stripped) with their elements."""
    dims = module_dims(spec)
    out = []
    for i in range(spec.num_layers):
        for m in lora.targets:
            where = "self_attn" if m in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
            d_in, d_out = dims[m]
            stem = f"base_model.model.model.layers.{i}.{where}.{m}"
            out.append((f"{stem}.lora_A.weight", lora.rank * d_in))
            out.append((f"{stem}.lora_B.weight", d_out * lora.rank))
    return out


def safetensors_bytes(spec: ModelSpec, lora: LoraSpec) -> int:
    """Size of adapter_model.safetensors: the fp32 tensors and the JSON header."""
    names = tensor_names(spec, lora)
    header = HEADER_BASE + sum(HEADER_ENTRY + len(name) for name, _ in names)
    header += -header % 8
    return header + ADAPTER_BYTES * sum(n for _, n in names)


def adapter_config(base_model: str, lora: LoraSpec, rng: np.random.Generator) -> str:
    """adapter_config.json as PEFT 0.17.1 writes it (its target modules in a set's order)."""
    targets = [lora.targets[i] for i in rng.permutation(len(lora.targets))]
    data: dict[str, object] = {
        "alpha_pattern": {},
        "auto_mapping": None,
        "base_model_name_or_path": base_model,
        "bias": "none",
        "corda_config": None,
        "eva_config": None,
        "exclude_modules": None,
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "layer_replication": None,
        "layers_pattern": None,
        "layers_to_transform": None,
        "loftq_config": {},
        "lora_alpha": lora.alpha,
        "lora_bias": False,
        "lora_dropout": lora.dropout,
        "megatron_config": None,
        "megatron_core": "megatron.core",
        "modules_to_save": None,
        "peft_type": "LORA",
        "qalora_group_size": 16,
        "r": lora.rank,
        "rank_pattern": {},
        "revision": None,
        "target_modules": targets,
        "target_parameters": None,
        "task_type": "CAUSAL_LM",
        "trainable_token_indices": None,
        "use_dora": False,
        "use_qalora": False,
        "use_rslora": False,
    }
    return json.dumps(data, indent=2, sort_keys=True)
