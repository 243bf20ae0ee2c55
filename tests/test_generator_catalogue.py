"""The catalogue: real architectures with their Hub facts, invented ones, GPU figures, the API."""

from __future__ import annotations

import itertools
import re

import pytest

from llmsim.generator import gpu_types, models
from llmsim.generator.catalog.architecture import (
    MAX_SHARD_BYTES,
    ModelSpec,
    param_count,
    shards,
    tensors,
)
from llmsim.generator.catalog.gpus import find_gpu
from llmsim.generator.catalog.models import find_model
from llmsim.generator.stacks.megatron import counts as megatron

# Published parameter counts the shape formula must reproduce exactly (model cards / safetensors
# metadata `total_parameters`).
ANCHORS = {
    "Llama-3-8B": 8_030_261_248,
    "Llama-3.2-1B": 1_235_814_400,
    "Llama-3.2-3B": 3_212_749_824,
    "Llama-3-70B": 70_553_706_496,
    "Llama-3.1-405B": 405_853_388_800,
    "Llama-2-7B": 6_738_415_616,
    "Llama-2-13B": 13_015_864_320,
    "Llama-2-70B": 68_976_648_192,
    "Mistral-7B-v0.1": 7_241_732_096,
    "Mistral-Nemo-12B": 12_247_782_400,
    "Qwen2.5-0.5B": 494_032_768,
    "Qwen2.5-1.5B": 1_543_714_304,
    "Qwen2.5-3B": 3_085_938_688,
    "Qwen2.5-7B": 7_615_616_512,
    "Qwen2.5-14B": 14_770_033_664,
    "Qwen2.5-32B": 32_763_876_352,
    "Qwen2.5-72B": 72_706_203_648,
    "SmolLM2-1.7B": 1_711_376_384,
}

# (safetensors files, max_position_embeddings, rope_theta, rope scaling factor or None) as each
# repository ships them. Source: https://huggingface.co/<hub_id>/tree/main and its config.json.
HUB_FACTS = {
    "meta-llama/Llama-3.2-1B": (1, 131072, 500000.0, 32.0),
    "meta-llama/Llama-3.2-3B": (2, 131072, 500000.0, 32.0),
    "meta-llama/Meta-Llama-3-8B": (4, 8192, 500000.0, None),
    "meta-llama/Meta-Llama-3-70B": (30, 8192, 500000.0, None),
    "meta-llama/Llama-3.1-405B": (191, 131072, 500000.0, 8.0),
    "meta-llama/Llama-2-7b-hf": (2, 4096, 10000.0, None),
    "meta-llama/Llama-2-13b-hf": (3, 4096, 10000.0, None),
    "meta-llama/Llama-2-70b-hf": (15, 4096, 10000.0, None),
    "mistralai/Mistral-7B-v0.1": (2, 32768, 10000.0, None),
    "mistralai/Mistral-Nemo-Base-2407": (5, 1024000, 1000000.0, None),
    "Qwen/Qwen2.5-0.5B": (1, 32768, 1000000.0, None),
    "Qwen/Qwen2.5-1.5B": (1, 131072, 1000000.0, None),
    "Qwen/Qwen2.5-3B": (2, 32768, 1000000.0, None),
    "Qwen/Qwen2.5-7B": (4, 131072, 1000000.0, None),
    "Qwen/Qwen2.5-14B": (8, 131072, 1000000.0, None),
    "Qwen/Qwen2.5-32B": (17, 131072, 1000000.0, None),
    "Qwen/Qwen2.5-72B": (37, 131072, 1000000.0, None),
    "HuggingFaceTB/SmolLM2-1.7B": (1, 8192, 130000.0, None),
}


def _spec(name: str) -> ModelSpec:
    spec = find_model(name)
    assert spec is not None, name
    return spec


@pytest.mark.parametrize("name", sorted(ANCHORS))
def test_real_architectures_give_published_parameter_counts(name: str) -> None:
    spec = _spec(name)
    assert not spec.invented and spec.params == ANCHORS[name]


def test_hub_facts_are_pinned() -> None:
    real = [m for m in models() if not m.invented]
    assert {m.hub_id for m in real} == set(HUB_FACTS)
    for spec in real:
        assert spec.hub is not None
        files, positions, theta, factor = HUB_FACTS[spec.hub_id]
        scaling = dict(spec.hub.rope_scaling)
        assert (spec.hub.weight_files, spec.max_positions, spec.hub.rope_theta) == (
            files,
            positions,
            theta,
        ), spec.name
        assert scaling.get("factor") == factor, spec.name


def test_field_names_cannot_be_confused() -> None:
    spec = _spec("llama-3-8b")  # case-insensitive lookup
    assert (spec.vocab_size, spec.hidden_size, spec.num_layers) == (128256, 4096, 32)
    assert (spec.num_heads, spec.num_kv_heads, spec.intermediate_size) == (32, 8, 14336)
    assert not spec.tied_embeddings and find_model("GPT-5") is None


@pytest.mark.parametrize("spec", [m for m in models() if m.invented], ids=lambda m: m.name)
def test_invented_size_suffix_matches_computed_parameters(spec: ModelSpec) -> None:
    m = re.search(r"-(\d+(?:\.\d+)?)([BM])$", spec.name)
    assert m, spec.name
    claimed = float(m.group(1)) * (1e9 if m.group(2) == "B" else 1e6)
    assert abs(spec.params - claimed) / claimed < 0.12
    assert spec.hidden_size % spec.num_heads == 0 and spec.num_heads % spec.num_kv_heads == 0
    assert spec.hub_id == "" and spec.hub is None


@pytest.mark.parametrize("spec", models(), ids=lambda m: m.name)
def test_tensors_sum_to_parameters_and_shards_are_greedy(spec: ModelSpec) -> None:
    assert sum(n for _, n in tensors(spec)) == param_count(spec)
    names = [n for n, _ in tensors(spec)]
    assert ("lm_head.weight" in names) != spec.tied_embeddings
    parts = shards(spec)
    sizes = [sum(b for _, b in p) for p in parts]
    assert sum(sizes) == 2 * param_count(spec) and max(sizes) <= MAX_SHARD_BYTES
    for before, part in itertools.pairwise(parts):  # greedy: the next tensor did not fit
        assert sum(b for _, b in before) + part[0][1] > MAX_SHARD_BYTES
    assert [n for p in parts for n, _ in p] == names


def test_megatron_rank_parameters_add_up() -> None:
    spec = _spec("Llama-3-70B")
    assert megatron.padded_vocab(128256, 8) == 129024  # 768 dummy tokens, as Megatron pads
    per_rank = [megatron.rank_params(spec, 8, 40, p == 0, p == 1) for p in range(2)]
    padding = (129024 - 128256) * 8192 * 2  # embedding + output layer padding
    norms = (2 * 80 + 1) * 8192 * 7  # layer and final norms are replicated on the 7 other ranks
    assert 8 * sum(per_rank) == param_count(spec) + padding + norms
    assert per_rank[0] != spec.params // 16  # not N / (tp x pp)


def test_gpu_figures_are_the_real_ones() -> None:
    h100, a100 = find_gpu("h100"), find_gpu("A100")
    assert h100 is not None and a100 is not None
    assert (h100.name, h100.memory_mib, h100.tdp_w, h100.peak_tflops, h100.max_clock_mhz) == (
        "NVIDIA H100 80GB HBM3",
        81559,
        700,
        989.0,
        1980,
    )
    assert (a100.name, a100.memory_mib, a100.tdp_w, a100.peak_tflops, a100.max_clock_mhz) == (
        "NVIDIA A100-SXM4-80GB",
        81920,
        400,
        312.0,
        1410,
    )
    assert {g.short for g in gpu_types()} == {
        "H100",
        "H200",
        "A100",
        "A100-40GB",
        "RTX4090",
        "RTX6000Ada",
        "L40S",
        "A10G",
    }
    # one-machine cards as nvidia-smi names them (memory total, power cap) and their dense
    # bf16 peaks with FP32 accumulate (issue 22's notes, section 10)
    figures = {
        g.short: (g.name, g.memory_mib, g.tdp_w, g.peak_tflops, g.cluster)
        for g in gpu_types()
        if not g.cluster
    }
    assert figures == {
        "RTX4090": ("NVIDIA GeForce RTX 4090", 24564, 450, 165.2, False),
        "RTX6000Ada": ("NVIDIA RTX 6000 Ada Generation", 49140, 300, 364.2, False),
        "L40S": ("NVIDIA L40S", 46068, 350, 362.05, False),
        "A10G": ("NVIDIA A10G", 23028, 300, 70.0, False),
    }
    assert find_gpu("4090") is find_gpu("rtx4090")
    assert find_gpu("h100-sxm") is h100 and find_gpu("nope") is None
    for g in gpu_types():  # what the public API promises
        assert g.short and g.name and g.memory_mib > 0 and g.peak_tflops > 0 and g.tdp_w > 0


def test_models_api_fields() -> None:
    entries = models()
    assert len({m.name for m in entries}) == len(entries) >= 30
    assert sum(m.invented for m in entries) >= 12
    for m in entries:
        assert m.params > 0 and isinstance(m.hub_id, str) and m.family
