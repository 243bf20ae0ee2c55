"""Per-step throughput: MFU wobble -> tokens/s and step time, with rare slow steps (stalls)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from llmsim.generator.shim import extra_of
from llmsim.trace.config import RunConfig

F64 = npt.NDArray[np.float64]
WOBBLE = 0.011  # relative sigma of the per-step MFU
WOBBLE_MAX = 0.025


@dataclass(frozen=True)
class StepRates:
    """Throughput of a chunk of steps; tokens_per_s * step_time == global_batch_tokens."""

    mfu: F64
    tokens_per_s: F64
    step_time: F64
    extra: F64  # seconds added by a stall or a retried collective (0 on normal steps)


def mfu_range(config: RunConfig) -> tuple[float, float]:
    """The MFU band of the run's GPU type."""
    lo, hi = extra_of(config).get("mfu_range", [0.33, 0.55])
    return float(lo), float(hi)


def flops_per_s(config: RunConfig) -> float:
    """Peak dense bf16 FLOP/s of the whole cluster."""
    return config.gpus * config.gpu_peak_tflops * 1e12


def mfu_of(config: RunConfig, tokens_per_s: F64) -> F64:
    """MFU from throughput: 6 N tokens/s / (GPUs x peak)."""
    out: F64 = 6.0 * config.params * tokens_per_s / flops_per_s(config)
    return out


def rates(config: RunConfig, n: int, rng: np.random.Generator, slow: dict[int, float]) -> StepRates:
    """Draw n consecutive steps. `slow` maps a chunk index to a wanted extra time fraction.

    A slow step is stretched only as far as the MFU stays inside the GPU's band, and the
    extra time is reported so the warning that explains it can quote it.
    """
    lo, hi = mfu_range(config)
    base = float(extra_of(config).get("mfu_base", (lo + hi) / 2))
    wobble = np.clip(rng.normal(0.0, WOBBLE, n), -WOBBLE_MAX, WOBBLE_MAX)
    mfu = np.clip(base * (1.0 + wobble), lo, hi)
    tps = mfu * flops_per_s(config) / (6.0 * config.params)
    step_time = config.global_batch_tokens / tps
    extra = np.zeros(n)
    if slow:
        idx = np.fromiter(slow.keys(), dtype=np.int64)
        want = np.fromiter(slow.values(), dtype=np.float64)
        room = mfu[idx] / (lo * 1.0005) - 1.0
        frac = np.clip(np.minimum(want, room), 0.0, None)
        extra[idx] = step_time[idx] * frac
        step_time = step_time + extra
        tps = config.global_batch_tokens / step_time
    return StepRates(mfu_of(config, tps), tps, step_time, extra)
