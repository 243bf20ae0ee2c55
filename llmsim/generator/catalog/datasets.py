"""Datasets a run may train on, with the sizes their cards publish (so a name holds its size)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Corpus:
    """A pretraining corpus: its Hub id, a short name for paths and configs, and its tokens."""

    hub_id: str
    short: str  # its name in paths and configs: torchtitan's dataset key, Megatron's data prefix
    tokens: int  # as the dataset card states them


@dataclass(frozen=True)
class SftSet:
    """A fine-tuning set: its Hub id, split, conversation count and mean tokens per example."""

    hub_id: str
    split: str
    examples: int
    mean_tokens: int  # with a Llama-style tokenizer and the chat template applied


CORPORA: Final[tuple[Corpus, ...]] = (
    Corpus("HuggingFaceFW/fineweb-edu", "fineweb_edu", 1_300_000_000_000),
    Corpus("HuggingFaceFW/fineweb", "fineweb", 15_000_000_000_000),
    Corpus("mlfoundations/dclm-baseline-1.0", "dclm_baseline", 4_000_000_000_000),
    Corpus("cerebras/SlimPajama-627B", "slimpajama", 627_000_000_000),
    Corpus("allenai/dolma", "dolma", 2_300_000_000_000),
    Corpus("allenai/c4", "c4", 156_000_000_000),
)

SFT_SETS: Final[tuple[SftSet, ...]] = (
    SftSet("HuggingFaceH4/ultrachat_200k", "train_sft", 207_865, 1_420),
    SftSet("teknium/OpenHermes-2.5", "train", 1_001_551, 480),
    SftSet("Open-Orca/SlimOrca", "train", 517_982, 410),
    SftSet("Magpie-Align/Magpie-Pro-300K-Filtered", "train", 300_000, 1_050),
    SftSet("allenai/tulu-3-sft-mixture", "train", 939_343, 990),
    SftSet("HuggingFaceTB/smoltalk", "train", 1_043_917, 870),
)


# Preference pairs (DPO): examples are pairs; mean_tokens counts the prompt once and both answers.
PREFERENCE_SETS: Final[tuple[SftSet, ...]] = (
    SftSet("trl-lib/ultrafeedback_binarized", "train", 62_135, 1_020),
    SftSet("HuggingFaceH4/ultrafeedback_binarized", "train_prefs", 61_135, 1_020),
    SftSet("Anthropic/hh-rlhf", "train", 160_800, 520),
    SftSet("argilla/distilabel-intel-orca-dpo-pairs", "train", 12_859, 900),
)
# Prompts with verifiable answers (GRPO): mean_tokens is the prompt's, chat template included.
PROMPT_SETS: Final[tuple[SftSet, ...]] = (
    SftSet("openai/gsm8k", "train", 7_473, 120),
    SftSet("AI-MO/NuminaMath-TIR", "train", 72_441, 150),
    SftSet("open-r1/OpenR1-Math-220k", "train", 93_733, 160),
    SftSet("DigitalLearningGmbH/MATH-lighteval", "train", 7_500, 130),
)
# The size of the test split a prompt set validates on (verl's data.val_files).
PROMPT_TESTS: Final[dict[str, int]] = {
    "openai/gsm8k": 1_319,
    "AI-MO/NuminaMath-TIR": 99,
    "open-r1/OpenR1-Math-220k": 500,
    "DigitalLearningGmbH/MATH-lighteval": 5_000,
}


def corpus_of(hub_id: str) -> Corpus | None:
    """The corpus whose Hub id is `hub_id` (None: not a pretraining corpus of the catalogue)."""
    return next((c for c in CORPORA if c.hub_id == hub_id), None)
