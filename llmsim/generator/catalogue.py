"""The catalogue as data: model architectures (real and invented), GPU types with real figures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class ModelSpec:
    """A decoder-only transformer (Llama-style: GQA attention, SwiGLU MLP, RMSNorm)."""

    name: str
    family: str
    vocab: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int
    tied: bool = False
    qkv_bias: bool = False
    head_dim: int = 0  # 0: hidden // heads
    max_seq: int = 8192
    invented: bool = False
    tokenizer_bytes: int = 0  # size of tokenizer.json; 0: estimated from the vocabulary

    @property
    def dim_per_head(self) -> int:
        """Attention head dimension (explicit, or hidden / heads)."""
        return self.head_dim or self.hidden // self.heads


@dataclass(frozen=True)
class GpuSpec:
    """One GPU type with the figures nvidia-smi and the data sheet give."""

    short: str  # accepted by --gpu-type
    name: str  # as nvidia-smi prints it
    memory_mib: int
    tdp_w: int
    peak_tflops: float  # dense bf16
    max_clock_mhz: int
    mfu_lo: float
    mfu_hi: float
    idle_w: int
    nvlink_gbs: float  # intra-node all-reduce bus bandwidth, GB/s
    ib_gbs: float  # inter-node bandwidth per GPU, GB/s
    interconnect: str
    host_prefixes: tuple[str, ...]


_L3_TOK = 9_085_657
_L2_TOK = 1_842_767
_QW_TOK = 7_031_645

MODELS: Final[tuple[ModelSpec, ...]] = (
    # --- real architectures (parameter counts follow from these; tests pin the published ones)
    ModelSpec(
        "Llama-3.2-1B",
        "llama",
        128256,
        2048,
        16,
        32,
        8,
        8192,
        tied=True,
        head_dim=64,
        tokenizer_bytes=_L3_TOK,
    ),
    ModelSpec(
        "Llama-3.2-3B",
        "llama",
        128256,
        3072,
        28,
        24,
        8,
        8192,
        tied=True,
        head_dim=128,
        tokenizer_bytes=_L3_TOK,
    ),
    ModelSpec("Llama-3-8B", "llama", 128256, 4096, 32, 32, 8, 14336, tokenizer_bytes=_L3_TOK),
    ModelSpec("Llama-3-70B", "llama", 128256, 8192, 80, 64, 8, 28672, tokenizer_bytes=_L3_TOK),
    ModelSpec(
        "Llama-3.1-405B", "llama", 128256, 16384, 126, 128, 8, 53248, tokenizer_bytes=_L3_TOK
    ),
    ModelSpec(
        "Llama-2-7B", "llama", 32000, 4096, 32, 32, 32, 11008, max_seq=4096, tokenizer_bytes=_L2_TOK
    ),
    ModelSpec(
        "Llama-2-13B",
        "llama",
        32000,
        5120,
        40,
        40,
        40,
        13824,
        max_seq=4096,
        tokenizer_bytes=_L2_TOK,
    ),
    ModelSpec(
        "Llama-2-70B", "llama", 32000, 8192, 80, 64, 8, 28672, max_seq=4096, tokenizer_bytes=_L2_TOK
    ),
    ModelSpec(
        "Mistral-7B-v0.1", "mistral", 32000, 4096, 32, 32, 8, 14336, tokenizer_bytes=1_795_188
    ),
    ModelSpec(
        "Mistral-Nemo-12B",
        "mistral",
        131072,
        5120,
        40,
        32,
        8,
        14336,
        head_dim=128,
        tokenizer_bytes=9_264_441,
    ),
    ModelSpec(
        "Qwen2.5-0.5B",
        "qwen2",
        151936,
        896,
        24,
        14,
        2,
        4864,
        tied=True,
        qkv_bias=True,
        tokenizer_bytes=_QW_TOK,
    ),
    ModelSpec(
        "Qwen2.5-1.5B",
        "qwen2",
        151936,
        1536,
        28,
        12,
        2,
        8960,
        tied=True,
        qkv_bias=True,
        tokenizer_bytes=_QW_TOK,
    ),
    ModelSpec(
        "Qwen2.5-3B",
        "qwen2",
        151936,
        2048,
        36,
        16,
        2,
        11008,
        tied=True,
        qkv_bias=True,
        tokenizer_bytes=_QW_TOK,
    ),
    ModelSpec(
        "Qwen2.5-7B",
        "qwen2",
        152064,
        3584,
        28,
        28,
        4,
        18944,
        qkv_bias=True,
        tokenizer_bytes=_QW_TOK,
    ),
    ModelSpec(
        "Qwen2.5-14B",
        "qwen2",
        152064,
        5120,
        48,
        40,
        8,
        13824,
        qkv_bias=True,
        tokenizer_bytes=_QW_TOK,
    ),
    ModelSpec(
        "Qwen2.5-32B",
        "qwen2",
        152064,
        5120,
        64,
        40,
        8,
        27648,
        qkv_bias=True,
        tokenizer_bytes=_QW_TOK,
    ),
    ModelSpec(
        "Qwen2.5-72B",
        "qwen2",
        152064,
        8192,
        80,
        64,
        8,
        29568,
        qkv_bias=True,
        tokenizer_bytes=_QW_TOK,
    ),
    ModelSpec(
        "TinyLlama-1.1B",
        "llama",
        32000,
        2048,
        22,
        32,
        4,
        5632,
        max_seq=2048,
        tokenizer_bytes=_L2_TOK,
    ),
    ModelSpec(
        "Yi-34B", "llama", 64000, 7168, 60, 56, 8, 20480, max_seq=4096, tokenizer_bytes=3_545_236
    ),
    ModelSpec(
        "SmolLM2-360M",
        "llama",
        49152,
        960,
        32,
        15,
        5,
        2560,
        tied=True,
        max_seq=2048,
        tokenizer_bytes=2_104_556,
    ),
    ModelSpec(
        "SmolLM2-1.7B",
        "llama",
        49152,
        2048,
        24,
        32,
        32,
        8192,
        tied=True,
        max_seq=2048,
        tokenizer_bytes=2_104_556,
    ),
    # --- invented: plausible shapes, names whose size suffix matches the computed count
    ModelSpec(
        "Tiny-Yapper-0.5B",
        "llama",
        32768,
        1280,
        24,
        20,
        4,
        3584,
        tied=True,
        max_seq=4096,
        invented=True,
    ),
    ModelSpec(
        "Overfit-Falcon-1B",
        "llama",
        50304,
        2048,
        18,
        16,
        16,
        5632,
        tied=True,
        max_seq=2048,
        invented=True,
    ),
    ModelSpec(
        "Vibe-Check-1.5B",
        "llama",
        49152,
        2048,
        28,
        16,
        8,
        6144,
        tied=True,
        max_seq=4096,
        invented=True,
    ),
    ModelSpec(
        "Attention-Deficit-2B", "llama", 65536, 2304, 26, 18, 6, 9216, tied=True, invented=True
    ),
    ModelSpec(
        "Stochastic-Parrot-3B", "llama", 65536, 3072, 30, 24, 8, 8192, tied=True, invented=True
    ),
    ModelSpec("Chinchilla-Optimal-ish-4B", "llama", 65536, 3072, 32, 24, 8, 9216, invented=True),
    ModelSpec("GPT-Nope-7B", "gpt-nope", 100352, 4096, 30, 32, 8, 14336, invented=True),
    ModelSpec(
        "Mixture-of-Excuses-8B",
        "qwen2",
        131072,
        4096,
        32,
        32,
        8,
        14336,
        qkv_bias=True,
        invented=True,
    ),
    ModelSpec(
        "NaN-Bread-9B",
        "llama",
        128256,
        4096,
        36,
        32,
        8,
        14336,
        invented=True,
        tokenizer_bytes=_L3_TOK,
    ),
    ModelSpec(
        "Llamageddon-13B",
        "llama",
        128256,
        5120,
        42,
        40,
        8,
        13824,
        invented=True,
        tokenizer_bytes=_L3_TOK,
    ),
    ModelSpec("Deep-Regret-20B", "llama", 100352, 6144, 48, 48, 8, 16384, invented=True),
    ModelSpec(
        "Sparse-Hope-30B", "qwen2", 151936, 6656, 60, 52, 4, 17920, qkv_bias=True, invented=True
    ),
    ModelSpec(
        "Descent-Into-Madness-34B",
        "llama",
        128256,
        7168,
        60,
        56,
        8,
        20480,
        invented=True,
        tokenizer_bytes=_L3_TOK,
    ),
    ModelSpec("Hallucinator-70B", "llama", 100352, 8192, 80, 64, 8, 29568, invented=True),
    ModelSpec(
        "Compute-Bonfire-150B",
        "llama",
        128256,
        12288,
        96,
        96,
        8,
        32768,
        invented=True,
        tokenizer_bytes=_L3_TOK,
    ),
)

GPUS: Final[tuple[GpuSpec, ...]] = (
    GpuSpec(
        "H100",
        "NVIDIA H100 80GB HBM3",
        81559,
        700,
        989.0,
        1980,
        0.33,
        0.55,
        72,
        900.0,
        50.0,
        "NVLink 4 (900 GB/s) + 8x InfiniBand NDR 400 Gb/s",
        ("dgx-h100", "gpu-h100", "hgx-h100", "node-h100"),
    ),
    GpuSpec(
        "H200",
        "NVIDIA H200",
        143771,
        700,
        989.0,
        1980,
        0.33,
        0.55,
        78,
        900.0,
        50.0,
        "NVLink 4 (900 GB/s) + 8x InfiniBand NDR 400 Gb/s",
        ("hgx-h200", "gpu-h200", "node-h200"),
    ),
    GpuSpec(
        "A100",
        "NVIDIA A100-SXM4-80GB",
        81920,
        400,
        312.0,
        1410,
        0.40,
        0.60,
        62,
        600.0,
        25.0,
        "NVLink 3 (600 GB/s) + 8x InfiniBand HDR 200 Gb/s",
        ("dgx-a100", "gpu-a100", "node-a100"),
    ),
    GpuSpec(
        "A100-40GB",
        "NVIDIA A100-SXM4-40GB",
        40960,
        400,
        312.0,
        1410,
        0.40,
        0.60,
        55,
        600.0,
        25.0,
        "NVLink 3 (600 GB/s) + 8x InfiniBand HDR 200 Gb/s",
        ("dgx-a100", "gpu-a100", "node-a100"),
    ),
)

MODEL_NAMES: Final[tuple[str, ...]] = tuple(m.name for m in MODELS)
GPU_TYPES: Final[tuple[str, ...]] = tuple(g.short for g in GPUS)

# Aliases accepted by --gpu-type besides the short names (all case-insensitive).
_GPU_ALIASES: Final[dict[str, str]] = {"a100-80gb": "A100", "h100-80gb": "H100", "h100-sxm": "H100"}


def find_model(name: str) -> ModelSpec | None:
    """The model called `name` (case-insensitive), or None."""
    key = name.strip().lower()
    for m in MODELS:
        if m.name.lower() == key:
            return m
    return None


def find_gpu(name: str) -> GpuSpec | None:
    """The GPU type called `name` (short name or alias, case-insensitive), or None."""
    key = name.strip().lower()
    key = _GPU_ALIASES.get(key, key).lower()
    for g in GPUS:
        if g.short.lower() == key:
            return g
    return None


PRETRAIN_DATASETS: Final[tuple[str, ...]] = (
    "HuggingFaceFW/fineweb-edu (sample-350BT)",
    "cerebras/SlimPajama-627B",
    "togethercomputer/RedPajama-Data-V2 (en, dedup)",
    "mlfoundations/dclm-baseline-1.0",
    "allenai/dolma (v1.7)",
    "allenai/c4 (en)",
)
FINETUNE_DATASETS: Final[tuple[str, ...]] = (
    "teknium/OpenHermes-2.5",
    "HuggingFaceH4/ultrachat_200k",
    "Open-Orca/SlimOrca",
    "Magpie-Align/Magpie-Pro-300K-Filtered",
    "allenai/tulu-3-sft-mixture",
    "internal/sft-mix-v3",
)

# (torch, cuda, nccl, transformers): combinations that shipped together.
SOFTWARE: Final[tuple[tuple[str, str, str, str], ...]] = (
    ("2.5.1", "12.4", "2.21.5", "4.46.3"),
    ("2.5.1", "12.4", "2.21.5", "4.47.1"),
    ("2.6.0", "12.4", "2.21.5", "4.49.0"),
    ("2.4.1", "12.1", "2.20.5", "4.44.2"),
)

HUB_IDS: Final[dict[str, str]] = {
    "Llama-3.2-1B": "meta-llama/Llama-3.2-1B",
    "Llama-3.2-3B": "meta-llama/Llama-3.2-3B",
    "Llama-3-8B": "meta-llama/Meta-Llama-3-8B",
    "Llama-3-70B": "meta-llama/Meta-Llama-3-70B",
    "Llama-3.1-405B": "meta-llama/Llama-3.1-405B",
    "Llama-2-7B": "meta-llama/Llama-2-7b-hf",
    "Llama-2-13B": "meta-llama/Llama-2-13b-hf",
    "Llama-2-70B": "meta-llama/Llama-2-70b-hf",
    "Mistral-7B-v0.1": "mistralai/Mistral-7B-v0.1",
    "Mistral-Nemo-12B": "mistralai/Mistral-Nemo-Base-2407",
    "TinyLlama-1.1B": "TinyLlama/TinyLlama_v1.1",
    "Yi-34B": "01-ai/Yi-34B",
    "SmolLM2-360M": "HuggingFaceTB/SmolLM2-360M",
    "SmolLM2-1.7B": "HuggingFaceTB/SmolLM2-1.7B",
}

# family -> (config class, model class, model_type)
ARCH_CLASSES: Final[dict[str, tuple[str, str, str]]] = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", "llama"),
    "mistral": ("MistralConfig", "MistralForCausalLM", "mistral"),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", "qwen2"),
    "gpt-nope": ("GPTNopeConfig", "GPTNopeForCausalLM", "gpt_nope"),
}


def hub_id(name: str) -> str:
    """Where a fine-tune's base checkpoint comes from (real repo ids; a made-up org otherwise)."""
    if name in HUB_IDS:
        return HUB_IDS[name]
    if name.startswith("Qwen"):
        return f"Qwen/{name}"
    return f"llmsim-labs/{name}"


def arch_classes(family: str) -> tuple[str, str, str]:
    """(config class, model class, model_type) of a family."""
    return ARCH_CLASSES.get(family, ARCH_CLASSES["llama"])
