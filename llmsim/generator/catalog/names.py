"""Names a run carries: its run name, hosts, ports and process ids (all from the seed)."""

from __future__ import annotations

import hashlib
from typing import Final

import numpy as np

from llmsim.generator.catalog.gpus import GpuSpec

MASK32: Final = 0xFFFFFFFF


def mix32(x: int) -> int:
    """A bijection on 32-bit integers (murmur3's finaliser): distinct inputs, distinct outputs."""
    x &= MASK32
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & MASK32
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & MASK32
    x ^= x >> 16
    return x


def run_suffix(seed: int, options_key: str) -> str:
    """8 hex digits, a function of the seed and the options.

    For fixed options it is a bijection of the seed modulo 2^32, so the runs of one batch
    (consecutive seeds) never share a name.
    """
    salt = int.from_bytes(hashlib.blake2b(options_key.encode(), digest_size=4).digest(), "big")
    return f"{mix32(seed + salt):08x}"


def run_name(model: str, kind: str, seed: int, options_key: str) -> str:
    """`llama-3-8b-sft-1f3a9c20`: the output folder name of the run."""
    label = {"finetune": "sft", "pretrain": "pretrain"}.get(kind, kind)
    return f"{model.lower()}-{label}-{run_suffix(seed, options_key)}"


def hostnames(gpu: GpuSpec, nodes: int, rng: np.random.Generator) -> tuple[str, ...]:
    """Consecutive node names of one rack row, e.g. dgx-h100-017 ... dgx-h100-048."""
    prefix = str(rng.choice(gpu.host_prefixes))
    first = int(rng.integers(1, 200))
    width = max(3, len(str(first + nodes)))
    return tuple(f"{prefix}-{first + i:0{width}d}" for i in range(nodes))
