"""The generator's catalogue, architecture formula, cluster fitting and option errors."""

from __future__ import annotations

import itertools
import re

import pytest

from llmsim.generator import (
    GPU_TYPES,
    MODEL_NAMES,
    GenerateOptions,
    GeneratorError,
    build_config,
    cluster,
)
from llmsim.generator.architecture import param_count, shards, tensors
from llmsim.generator.catalogue import GPUS, MODELS, find_gpu, find_model

# Published parameter counts that the architecture formula must reproduce exactly.
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
    "TinyLlama-1.1B": 1_100_048_384,
    "Yi-34B": 34_388_917_248,
    "SmolLM2-360M": 361_821_120,
    "SmolLM2-1.7B": 1_711_376_384,
}


@pytest.mark.parametrize("name", sorted(ANCHORS))
def test_real_architectures_give_published_parameter_counts(name: str) -> None:
    spec = find_model(name)
    assert spec is not None and not spec.invented
    assert param_count(spec) == ANCHORS[name]


def test_llama3_8b_architecture_fields() -> None:
    spec = find_model("llama-3-8b")  # case-insensitive
    assert spec is not None
    assert (spec.vocab, spec.hidden, spec.layers, spec.heads, spec.kv_heads, spec.ffn) == (
        128256,
        4096,
        32,
        32,
        8,
        14336,
    )
    assert not spec.tied


def test_catalogue_has_enough_real_and_invented_models() -> None:
    real = [m for m in MODELS if not m.invented]
    invented = [m for m in MODELS if m.invented]
    assert len(real) >= 12 and len(invented) >= 12
    assert set(ANCHORS) <= {m.name for m in real}
    assert len(set(MODEL_NAMES)) == len(MODEL_NAMES) == len(MODELS)
    assert len({n.lower() for n in MODEL_NAMES}) == len(MODEL_NAMES)


@pytest.mark.parametrize("spec", [m for m in MODELS if m.invented], ids=lambda m: m.name)
def test_invented_size_suffix_matches_computed_parameters(spec) -> None:  # type: ignore[no-untyped-def]
    m = re.search(r"-(\d+(?:\.\d+)?)([BM])$", spec.name)
    assert m, spec.name
    claimed = float(m.group(1)) * (1e9 if m.group(2) == "B" else 1e6)
    assert abs(param_count(spec) - claimed) / claimed < 0.12
    assert spec.hidden % spec.heads == 0 and spec.heads % spec.kv_heads == 0


@pytest.mark.parametrize("spec", MODELS, ids=lambda m: m.name)
def test_tensors_sum_to_parameter_count_and_shards_are_greedy(spec) -> None:  # type: ignore[no-untyped-def]
    assert sum(n for _, n in tensors(spec)) == param_count(spec)
    names = [n for n, _ in tensors(spec)]
    assert names[0] == "model.embed_tokens.weight"
    assert ("lm_head.weight" in names) != spec.tied
    parts = shards(spec, 5 * 10**9)
    sizes = [sum(b for _, b in p) for p in parts]
    assert sum(sizes) == 2 * param_count(spec)
    assert all(s <= 5 * 10**9 for s in sizes)
    # greedy: the first tensor of each shard would not have fitted in the one before
    for before, part in itertools.pairwise(parts):
        assert sum(b for _, b in before) + part[0][1] > 5 * 10**9
    assert [n for p in parts for n, _ in p] == names


def test_llama3_8b_shards_like_transformers() -> None:
    spec = find_model("Llama-3-8B")
    assert spec is not None
    assert len(shards(spec, 5 * 10**9)) == 4


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
    assert (h100.mfu_lo, h100.mfu_hi, a100.mfu_lo, a100.mfu_hi) == (0.33, 0.55, 0.40, 0.60)
    assert set(GPU_TYPES) == {g.short for g in GPUS} and "H200" in GPU_TYPES
    assert find_gpu("nope") is None


def test_min_gpus_and_layouts() -> None:
    h100 = find_gpu("H100")
    assert h100 is not None
    big = find_model("Llama-3-70B")
    small = find_model("Llama-3.2-1B")
    assert big is not None and small is not None
    need = cluster.min_gpus(param_count(big), h100.memory_mib)
    assert need is not None and need >= 16
    assert cluster.layout(param_count(big), need, h100.memory_mib) is not None
    assert cluster.layout(param_count(big), need - 8, h100.memory_mib) is None
    assert cluster.min_gpus(param_count(small), h100.memory_mib) == 1
    plan = cluster.layout(param_count(big), 512, h100.memory_mib)
    assert plan is not None and plan.tp == 8 and plan.tp * plan.pp * plan.dp == 512


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (GenerateOptions(seed=1, model="GPT-5"), "Llama-3-8B"),
        (GenerateOptions(seed=1, gpu_type="TPUv5"), "H100"),
        (GenerateOptions(seed=1, gpus=12), "multiple of 8"),
        (GenerateOptions(seed=1, gpus=8192), "4096"),
        (GenerateOptions(seed=1, gpus=0), "multiple of 8"),
        (GenerateOptions(seed=1, model="Llama-3-70B", gpus=8, gpu_type="H100"), "at least"),
        (GenerateOptions(seed=1, kind="rlhf"), "pretrain or finetune"),
        (GenerateOptions(seed=1, epochs=0), "--epochs"),
        (GenerateOptions(seed=1, steps_per_epoch=0), "--steps-per-epoch"),
        (GenerateOptions(seed=1, duration=5.0), "--duration"),
        (GenerateOptions(seed=-3), "--seed"),
    ],
)
def test_impossible_options_raise_one_line_errors(options: GenerateOptions, needle: str) -> None:
    with pytest.raises(GeneratorError) as info:
        build_config(options)
    message = str(info.value)
    assert needle in message and "\n" not in message


def test_too_big_model_error_names_the_minimum() -> None:
    with pytest.raises(GeneratorError) as info:
        build_config(GenerateOptions(seed=1, model="Llama-3-70B", gpus=8, gpu_type="H100"))
    need = cluster.min_gpus(ANCHORS["Llama-3-70B"], 81559)
    assert f"at least {need}" in str(info.value)
    config = build_config(GenerateOptions(seed=1, model="Llama-3-70B", gpus=need, gpu_type="H100"))
    assert config.gpus == need


def test_explicit_options_are_honoured() -> None:
    c = build_config(
        GenerateOptions(
            seed=5,
            model="qwen2.5-7b",
            gpus=16,
            gpu_type="a100",
            kind="finetune",
            epochs=3,
            steps_per_epoch=40,
            start_time=1_700_000_000.0,
        )
    )
    assert (c.model, c.gpus, c.gpu_short, c.kind, c.epochs) == (
        "Qwen2.5-7B",
        16,
        "A100",
        "finetune",
        3,
    )
    assert c.steps_per_epoch == 40 and c.total_steps == 120
    assert c.start_time == 1_700_000_000.0
    assert (
        c.nodes == 2 and len(c.hostnames) == 2 and c.hostnames[0].startswith(("dgx", "gpu", "node"))
    )
    assert c.global_batch == c.dp * c.micro_batch * c.grad_accum
    assert c.global_batch_tokens == c.global_batch * c.seq_len
    assert c.name.startswith("qwen2.5-7b-sft-") and c.output_dir == f"./outputs/{c.name}"
    assert 1e-5 <= c.lr_peak <= 2e-4


def test_pretrain_peak_lr_follows_model_size() -> None:
    small = build_config(GenerateOptions(seed=2, model="Llama-3-8B", kind="pretrain", gpus=64))
    mid = build_config(GenerateOptions(seed=2, model="Llama-3-70B", kind="pretrain", gpus=512))
    huge = build_config(GenerateOptions(seed=2, model="Llama-3.1-405B", kind="pretrain", gpus=1024))
    assert small.lr_peak == 3e-4 and mid.lr_peak == 1.5e-4 and huge.lr_peak <= 8e-5
    assert small.lr_min == pytest.approx(0.1 * small.lr_peak)
    assert small.epochs == 1


def test_duration_option_sets_the_run_length() -> None:
    c = build_config(GenerateOptions(seed=3, duration=3600.0, model="Llama-3-8B", gpus=64))
    approx_train = c.total_steps * c.extra["step_time_mean"]
    assert 0.6 * 3600 < approx_train < 3600
