"""The JSON blocks transformers prints: a model's config and its generation config (4.57.1).

`PretrainedConfig.__repr__` is `f"{cls} {to_json_string()}"`, the diff against the defaults
(configuration_utils.py `to_diff_dict`): every model-specific key, the PretrainedConfig keys that
differ (architectures, token ids, dtype), `model_type` and `transformers_version`, sorted, two
spaces of indent, a trailing newline. Qwen2 configs carry `layer_types` (one entry per layer).
"""

from __future__ import annotations

import json
from typing import Any

from llmsim.generator.catalog.architecture import ModelSpec
from llmsim.generator.catalog.models import arch_classes


def model_config(spec: ModelSpec, version: str) -> dict[str, Any]:
    """The config.json values of a model as transformers would dump them."""
    _, model_cls, model_type = arch_classes(spec.family)
    hub = spec.hub
    cfg: dict[str, Any] = {
        "architectures": [model_cls],
        "attention_dropout": 0.0,
        "bos_token_id": hub.bos_token_id if hub else 1,
        "dtype": "bfloat16",
        "eos_token_id": hub.eos_token_id if hub else 2,
        "hidden_act": "silu",
        "hidden_size": spec.hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": spec.intermediate_size,
        "max_position_embeddings": spec.max_positions,
        "model_type": model_type,
        "num_attention_heads": spec.num_heads,
        "num_hidden_layers": spec.num_layers,
        "num_key_value_heads": spec.num_kv_heads,
        "rms_norm_eps": spec.rms_norm_eps,
        "rope_scaling": dict(hub.rope_scaling) if hub and hub.rope_scaling else None,
        "rope_theta": spec.rope_theta,
        "tie_word_embeddings": spec.tied_embeddings,
        "transformers_version": version,
        "use_cache": True,
        "vocab_size": spec.vocab_size,
    }
    if spec.family == "qwen2":
        cfg["layer_types"] = ["full_attention"] * spec.num_layers
        cfg["max_window_layers"] = spec.num_layers
        cfg["sliding_window"] = hub.sliding_window if hub else None
        cfg["use_sliding_window"] = False
    else:
        cfg["head_dim"] = spec.dim_per_head
        if spec.family == "mistral":
            cfg["sliding_window"] = hub.sliding_window if hub else None
        else:
            cfg.update(attention_bias=spec.qkv_bias, mlp_bias=False, pretraining_tp=1)
    return cfg


def config_block(spec: ModelSpec, version: str) -> list[str]:
    """`LlamaConfig {` ... `}` and the empty line the trailing newline leaves."""
    cls = arch_classes(spec.family)[0]
    body = json.dumps(model_config(spec, version), indent=2, sort_keys=True).splitlines()
    return [f"{cls} {body[0]}", *body[1:], ""]


def generation_config(spec: ModelSpec, version: str) -> dict[str, Any]:
    """The generation_config.json values of a base model (token ids; sampling for Llama
    3.1+)."""
    hub = spec.hub
    cfg: dict[str, Any] = {
        "bos_token_id": hub.bos_token_id if hub else 1,
        "eos_token_id": hub.eos_token_id if hub else 2,
        "transformers_version": version,
    }
    if hub and hub.rope_scaling:  # Llama 3.1 / 3.2 ship sampling defaults
        cfg.update(do_sample=True, temperature=0.6, top_p=0.9)
    return cfg


def generation_block(spec: ModelSpec, version: str) -> list[str]:
    """`GenerationConfig {` ... `}` for a base model."""
    body = json.dumps(generation_config(spec, version), indent=2, sort_keys=True).splitlines()
    return [f"GenerationConfig {body[0]}", *body[1:], ""]
