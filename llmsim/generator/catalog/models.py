"""The model catalogue as a table: real architectures with their Hub facts, and invented ones.

Every real entry's shape (`ModelSpec`, catalog/architecture.py) and `HubFacts` come from the
model's `config.json` and file listing on huggingface.co
(`https://huggingface.co/<hub_id>/blob/main/config.json`); tests pin them. The parameter count
is never stored: it follows from the shape (`architecture.param_count`), and the tests check it
against the published counts. The tokenizer's files are here too (the export lists them).
"""

from __future__ import annotations

from typing import Final

from llmsim.generator.catalog.architecture import HubFacts, ModelSpec

# Published pretraining token budgets: Llama 3 and 3.1 "over 15T" / "~15 trillion tokens" (model
# cards; the 3.1 paper, arXiv 2407.21783, says 15.6T), Llama 3.2 1B/3B "up to 9T" (model card),
# Llama 2 2.0T (arXiv 2307.09288, table 1), Qwen2.5 18T (arXiv 2412.15115), SmolLM2-1.7B 11T
# (model card). Mistral's are not disclosed (0).
LLAMA3_TOKENS: Final = 15 * 10**12
LLAMA32_TOKENS: Final = 9 * 10**12
LLAMA2_TOKENS: Final = 2 * 10**12
QWEN25_TOKENS: Final = 18 * 10**12
SMOLLM2_17B_TOKENS: Final = 11 * 10**12

# Size of tokenizer.json as `save_pretrained` writes it (what fine-tuned copies on the Hub show),
# per tokenizer family (bytes): Llama 3 keeps its 9.09 MB; Qwen2's fast tokenizer re-serialises
# its 7.03 MB file with indentation, 11.4 MB (notes: issue 20 sources, B5).
_LLAMA3_TOKENIZER = 9_085_657
_LLAMA2_TOKENIZER = 1_842_767
_QWEN_TOKENIZER = 11_418_266


_LLAMA31_ROPE: Final = (
    ("factor", 8.0),
    ("high_freq_factor", 4.0),
    ("low_freq_factor", 1.0),
    ("original_max_position_embeddings", 8192),
    ("rope_type", "llama3"),
)
_LLAMA32_ROPE: Final = (
    ("factor", 32.0),
    ("high_freq_factor", 4.0),
    ("low_freq_factor", 1.0),
    ("original_max_position_embeddings", 8192),
    ("rope_type", "llama3"),
)


def _llama3(
    hub_id: str,
    files: int,
    positions: int,
    rope: tuple[tuple[str, float | int | str], ...] = (),
    tokens: int = LLAMA3_TOKENS,
) -> HubFacts:
    return HubFacts(
        hub_id,
        files,
        positions,
        500000.0,
        1e-05,
        128000,
        128001,
        rope,
        None,
        _LLAMA3_TOKENIZER,
        tokens,
    )


def _llama2(hub_id: str, files: int) -> HubFacts:
    return HubFacts(
        hub_id, files, 4096, 10000.0, 1e-05, 1, 2, (), None, _LLAMA2_TOKENIZER, LLAMA2_TOKENS
    )


def _qwen25(hub_id: str, files: int, positions: int, eps: float) -> HubFacts:
    return HubFacts(
        hub_id,
        files,
        positions,
        1000000.0,
        eps,
        151643,
        151643,
        (),
        positions,
        _QWEN_TOKENIZER,
        QWEN25_TOKENS,
    )


MODELS: Final[tuple[ModelSpec, ...]] = (
    # --- real architectures (HubFacts: config.json and the repo's safetensors files) ---
    ModelSpec(
        name="Llama-3.2-1B",
        family="llama",
        vocab_size=128256,
        hidden_size=2048,
        num_layers=16,
        num_heads=32,
        num_kv_heads=8,
        intermediate_size=8192,
        head_dim=64,
        tied_embeddings=True,
        hub=_llama3("meta-llama/Llama-3.2-1B", 1, 131072, _LLAMA32_ROPE, LLAMA32_TOKENS),
    ),
    ModelSpec(
        name="Llama-3.2-3B",
        family="llama",
        vocab_size=128256,
        hidden_size=3072,
        num_layers=28,
        num_heads=24,
        num_kv_heads=8,
        intermediate_size=8192,
        head_dim=128,
        tied_embeddings=True,
        hub=_llama3("meta-llama/Llama-3.2-3B", 2, 131072, _LLAMA32_ROPE, LLAMA32_TOKENS),
    ),
    ModelSpec(
        name="Llama-3-8B",
        family="llama",
        vocab_size=128256,
        hidden_size=4096,
        num_layers=32,
        num_heads=32,
        num_kv_heads=8,
        intermediate_size=14336,
        hub=_llama3("meta-llama/Meta-Llama-3-8B", 4, 8192),
    ),
    ModelSpec(
        name="Llama-3-70B",
        family="llama",
        vocab_size=128256,
        hidden_size=8192,
        num_layers=80,
        num_heads=64,
        num_kv_heads=8,
        intermediate_size=28672,
        hub=_llama3("meta-llama/Meta-Llama-3-70B", 30, 8192),
    ),
    ModelSpec(
        name="Llama-3.1-405B",
        family="llama",
        vocab_size=128256,
        hidden_size=16384,
        num_layers=126,
        num_heads=128,
        num_kv_heads=8,
        intermediate_size=53248,
        hub=_llama3("meta-llama/Llama-3.1-405B", 191, 131072, _LLAMA31_ROPE),
    ),
    ModelSpec(
        name="Llama-2-7B",
        family="llama",
        vocab_size=32000,
        hidden_size=4096,
        num_layers=32,
        num_heads=32,
        num_kv_heads=32,
        intermediate_size=11008,
        hub=_llama2("meta-llama/Llama-2-7b-hf", 2),
    ),
    ModelSpec(
        name="Llama-2-13B",
        family="llama",
        vocab_size=32000,
        hidden_size=5120,
        num_layers=40,
        num_heads=40,
        num_kv_heads=40,
        intermediate_size=13824,
        hub=_llama2("meta-llama/Llama-2-13b-hf", 3),
    ),
    ModelSpec(
        name="Llama-2-70B",
        family="llama",
        vocab_size=32000,
        hidden_size=8192,
        num_layers=80,
        num_heads=64,
        num_kv_heads=8,
        intermediate_size=28672,
        hub=_llama2("meta-llama/Llama-2-70b-hf", 15),
    ),
    ModelSpec(
        name="Mistral-7B-v0.1",
        family="mistral",
        vocab_size=32000,
        hidden_size=4096,
        num_layers=32,
        num_heads=32,
        num_kv_heads=8,
        intermediate_size=14336,
        hub=HubFacts(
            "mistralai/Mistral-7B-v0.1", 2, 32768, 10000.0, 1e-05, 1, 2, (), 4096, 1_795_188
        ),
    ),
    ModelSpec(
        name="Mistral-Nemo-12B",
        family="mistral",
        vocab_size=131072,
        hidden_size=5120,
        num_layers=40,
        num_heads=32,
        num_kv_heads=8,
        intermediate_size=14336,
        head_dim=128,
        hub=HubFacts(
            "mistralai/Mistral-Nemo-Base-2407",
            5,
            1024000,
            1000000.0,
            1e-05,
            1,
            2,
            (),
            None,
            9_264_441,
        ),
    ),
    ModelSpec(
        name="Qwen2.5-0.5B",
        family="qwen2",
        vocab_size=151936,
        hidden_size=896,
        num_layers=24,
        num_heads=14,
        num_kv_heads=2,
        intermediate_size=4864,
        tied_embeddings=True,
        qkv_bias=True,
        hub=_qwen25("Qwen/Qwen2.5-0.5B", 1, 32768, 1e-06),
    ),
    ModelSpec(
        name="Qwen2.5-1.5B",
        family="qwen2",
        vocab_size=151936,
        hidden_size=1536,
        num_layers=28,
        num_heads=12,
        num_kv_heads=2,
        intermediate_size=8960,
        tied_embeddings=True,
        qkv_bias=True,
        hub=_qwen25("Qwen/Qwen2.5-1.5B", 1, 131072, 1e-06),
    ),
    ModelSpec(
        name="Qwen2.5-3B",
        family="qwen2",
        vocab_size=151936,
        hidden_size=2048,
        num_layers=36,
        num_heads=16,
        num_kv_heads=2,
        intermediate_size=11008,
        tied_embeddings=True,
        qkv_bias=True,
        hub=_qwen25("Qwen/Qwen2.5-3B", 2, 32768, 1e-06),
    ),
    ModelSpec(
        name="Qwen2.5-7B",
        family="qwen2",
        vocab_size=152064,
        hidden_size=3584,
        num_layers=28,
        num_heads=28,
        num_kv_heads=4,
        intermediate_size=18944,
        qkv_bias=True,
        hub=_qwen25("Qwen/Qwen2.5-7B", 4, 131072, 1e-06),
    ),
    ModelSpec(
        name="Qwen2.5-14B",
        family="qwen2",
        vocab_size=152064,
        hidden_size=5120,
        num_layers=48,
        num_heads=40,
        num_kv_heads=8,
        intermediate_size=13824,
        qkv_bias=True,
        hub=_qwen25("Qwen/Qwen2.5-14B", 8, 131072, 1e-05),
    ),
    ModelSpec(
        name="Qwen2.5-32B",
        family="qwen2",
        vocab_size=152064,
        hidden_size=5120,
        num_layers=64,
        num_heads=40,
        num_kv_heads=8,
        intermediate_size=27648,
        qkv_bias=True,
        hub=_qwen25("Qwen/Qwen2.5-32B", 17, 131072, 1e-05),
    ),
    ModelSpec(
        name="Qwen2.5-72B",
        family="qwen2",
        vocab_size=152064,
        hidden_size=8192,
        num_layers=80,
        num_heads=64,
        num_kv_heads=8,
        intermediate_size=29568,
        qkv_bias=True,
        hub=_qwen25("Qwen/Qwen2.5-72B", 37, 131072, 1e-05),
    ),
    ModelSpec(
        name="SmolLM2-1.7B",
        family="llama",
        vocab_size=49152,
        hidden_size=2048,
        num_layers=24,
        num_heads=32,
        num_kv_heads=32,
        intermediate_size=8192,
        head_dim=64,
        tied_embeddings=True,
        hub=HubFacts(
            "HuggingFaceTB/SmolLM2-1.7B",
            1,
            8192,
            130000.0,
            1e-05,
            0,
            0,
            (),
            None,
            2_104_556,
            SMOLLM2_17B_TOKENS,
        ),
    ),
    # --- invented: plausible shapes, names whose size suffix matches the computed count ---
    ModelSpec(
        name="Tiny-Yapper-0.5B",
        family="llama",
        vocab_size=32768,
        hidden_size=1280,
        num_layers=24,
        num_heads=20,
        num_kv_heads=4,
        intermediate_size=3584,
        tied_embeddings=True,
        max_position_embeddings=4096,
    ),
    ModelSpec(
        name="Overfit-Falcon-1B",
        family="llama",
        vocab_size=50304,
        hidden_size=2048,
        num_layers=18,
        num_heads=16,
        num_kv_heads=16,
        intermediate_size=5632,
        tied_embeddings=True,
        max_position_embeddings=2048,
    ),
    ModelSpec(
        name="Vibe-Check-1.5B",
        family="llama",
        vocab_size=49152,
        hidden_size=2048,
        num_layers=28,
        num_heads=16,
        num_kv_heads=8,
        intermediate_size=6144,
        tied_embeddings=True,
        max_position_embeddings=4096,
    ),
    ModelSpec(
        name="Attention-Deficit-2B",
        family="llama",
        vocab_size=65536,
        hidden_size=2304,
        num_layers=26,
        num_heads=18,
        num_kv_heads=6,
        intermediate_size=9216,
        tied_embeddings=True,
    ),
    ModelSpec(
        name="Stochastic-Parrot-3B",
        family="llama",
        vocab_size=65536,
        hidden_size=3072,
        num_layers=30,
        num_heads=24,
        num_kv_heads=8,
        intermediate_size=8192,
        tied_embeddings=True,
    ),
    ModelSpec(
        name="Chinchilla-Optimal-ish-4B",
        family="llama",
        vocab_size=65536,
        hidden_size=3072,
        num_layers=32,
        num_heads=24,
        num_kv_heads=8,
        intermediate_size=9216,
    ),
    ModelSpec(
        name="GPT-Nope-7B",
        family="gpt-nope",
        vocab_size=100352,
        hidden_size=4096,
        num_layers=30,
        num_heads=32,
        num_kv_heads=8,
        intermediate_size=14336,
    ),
    ModelSpec(
        name="Mixture-of-Excuses-8B",
        family="qwen2",
        vocab_size=131072,
        hidden_size=4096,
        num_layers=32,
        num_heads=32,
        num_kv_heads=8,
        intermediate_size=14336,
        qkv_bias=True,
    ),
    ModelSpec(
        name="NaN-Bread-9B",
        family="llama",
        vocab_size=128256,
        hidden_size=4096,
        num_layers=36,
        num_heads=32,
        num_kv_heads=8,
        intermediate_size=14336,
    ),
    ModelSpec(
        name="Llamageddon-13B",
        family="llama",
        vocab_size=128256,
        hidden_size=5120,
        num_layers=42,
        num_heads=40,
        num_kv_heads=8,
        intermediate_size=13824,
    ),
    ModelSpec(
        name="Deep-Regret-20B",
        family="llama",
        vocab_size=100352,
        hidden_size=6144,
        num_layers=48,
        num_heads=48,
        num_kv_heads=8,
        intermediate_size=16384,
    ),
    ModelSpec(
        name="Sparse-Hope-30B",
        family="qwen2",
        vocab_size=151936,
        hidden_size=6656,
        num_layers=60,
        num_heads=52,
        num_kv_heads=4,
        intermediate_size=17920,
        qkv_bias=True,
    ),
    ModelSpec(
        name="Descent-Into-Madness-34B",
        family="llama",
        vocab_size=128256,
        hidden_size=7168,
        num_layers=60,
        num_heads=56,
        num_kv_heads=8,
        intermediate_size=20480,
    ),
    ModelSpec(
        name="Hallucinator-70B",
        family="llama",
        vocab_size=100352,
        hidden_size=8192,
        num_layers=80,
        num_heads=64,
        num_kv_heads=8,
        intermediate_size=29568,
    ),
    ModelSpec(
        name="Compute-Bonfire-150B",
        family="llama",
        vocab_size=128256,
        hidden_size=12288,
        num_layers=96,
        num_heads=96,
        num_kv_heads=8,
        intermediate_size=32768,
    ),
)

MODEL_NAMES: Final[tuple[str, ...]] = tuple(m.name for m in MODELS)

# family -> (config class, model class, model_type) as transformers names them
ARCH_CLASSES: Final[dict[str, tuple[str, str, str]]] = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", "llama"),
    "mistral": ("MistralConfig", "MistralForCausalLM", "mistral"),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", "qwen2"),
    "gpt-nope": ("GPTNopeConfig", "GPTNopeForCausalLM", "gpt_nope"),
}


def find_model(name: str) -> ModelSpec | None:
    """The model called `name` (case-insensitive), or None."""
    key = name.strip().lower()
    return next((m for m in MODELS if m.name.lower() == key), None)


def arch_classes(family: str) -> tuple[str, str, str]:
    """(config class, model class, model_type) of a family."""
    return ARCH_CLASSES.get(family, ARCH_CLASSES["llama"])


INVENTED_ORG: Final = "nimbus-ml"  # the Hub organisation of the invented models


def base_repo(spec: ModelSpec) -> str:
    """Where the base checkpoint comes from: the real repo, or an invented lab's (a name that
    could be a Hub organisation: a job's output never names llmsim itself)."""
    return spec.hub.hub_id if spec.hub else f"{INVENTED_ORG}/{spec.name}"


# Files a tokenizer ships besides its config, by kind, and the sizes of those that do not
# depend on the model (tokenizer.json's is the model's `tokenizer_bytes`). `save_pretrained`
# also writes tokenizer_config.json and special_tokens_map.json (and Qwen2's added_tokens.json).
TOKENIZER_FILES: Final[dict[str, tuple[str, ...]]] = {
    "llama3": ("tokenizer.json",),
    "sentencepiece": ("tokenizer.model", "tokenizer.json"),
    "qwen2": ("vocab.json", "merges.txt", "tokenizer.json"),
}
TOKENIZER_FILE_BYTES: Final[dict[str, int]] = {
    "tokenizer.model": 499_723,
    "vocab.json": 2_776_833,
    "merges.txt": 1_671_853,
    "added_tokens.json": 605,
}
# (tokenizer_config.json, special_tokens_map.json) as save_pretrained writes them, by kind: one
# size per tokenizer, every run. Llama 3: 50.6 kB (its 256 reserved special tokens) and 301 B
# (bos and eos as full AddedToken dicts); Qwen2.5: 7.34 kB and 613 B (issue 20 sources, B5, the
# Hub's rounded figures); SentencePiece (Llama 2, Mistral): not verified, the Llama 2 repo's
# files re-serialised.
TOKENIZER_CONFIG_BYTES: Final[dict[str, tuple[int, int]]] = {
    "llama3": (50_566, 301),
    "qwen2": (7_306, 613),
    "sentencepiece": (1_618, 414),
}
# An invented lab's tokenizer has a few special tokens: its config holds them and the vocabulary
# size's own digits (bytes of a small config, per special token).
INVENTED_CONFIG_BYTES: Final = (1_180, 96)


def tokenizer_kind(spec: ModelSpec) -> str:
    """Qwen2's BPE, Llama 2's SentencePiece (a 32,000 vocabulary) or Llama 3's tiktoken-style
    tokenizer.json (every other model's)."""
    if spec.family == "qwen2":
        return "qwen2"
    return "sentencepiece" if spec.vocab_size == 32000 else "llama3"


def tokenizer_files(spec: ModelSpec) -> tuple[str, ...]:
    """The files the model's tokenizer ships besides its config and special-token map."""
    return TOKENIZER_FILES[tokenizer_kind(spec)]


def saved_tokenizer_files(spec: ModelSpec) -> tuple[str, ...]:
    """What `tokenizer.save_pretrained` writes: the tokenizer's files (Qwen2's fast tokenizer
    adds added_tokens.json), its config and its special-token map."""
    added = ("added_tokens.json",) if tokenizer_kind(spec) == "qwen2" else ()
    return (*tokenizer_files(spec), *added, "tokenizer_config.json", "special_tokens_map.json")


def tokenizer_file_bytes(spec: ModelSpec, name: str) -> int:
    """Size of one of the tokenizer's files as save_pretrained writes it: the same for a model
    in every run."""
    if name == "tokenizer.json":
        return spec.tokenizer_bytes
    if name in ("tokenizer_config.json", "special_tokens_map.json"):
        config, special = TOKENIZER_CONFIG_BYTES[tokenizer_kind(spec)]
        if spec.invented:
            base, per_token = INVENTED_CONFIG_BYTES
            specials = 4 + spec.vocab_size % 7  # bos, eos, pad, unk and a few of its own
            config, special = base + per_token * specials + len(str(spec.vocab_size)), 301
        return config if name == "tokenizer_config.json" else special
    return TOKENIZER_FILE_BYTES[name]
