"""The generator: plans whole simulated training runs and streams them into Parquet traces.

    plan = plan_run(GenerateOptions(seed=7, model="Llama-3-8B"))
    rows = write_trace(plan, Path("run.parquet"))

`models()` and `gpu_types()` list the catalogues. Numerics only: nothing here renders.
"""

from __future__ import annotations

from llmsim.generator.catalog.architecture import ModelSpec
from llmsim.generator.catalog.gpus import GPUS, GpuSpec
from llmsim.generator.catalog.models import MODELS
from llmsim.generator.options import GenerateOptions, GeneratorError
from llmsim.generator.phases.build import write_trace
from llmsim.generator.plan import make
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.stacks.registry import PROFILES

__all__ = [
    "GenerateOptions",
    "GeneratorError",
    "GpuSpec",
    "ModelSpec",
    "RunPlan",
    "gpu_types",
    "models",
    "plan_run",
    "write_trace",
]


def plan_run(options: GenerateOptions) -> RunPlan:
    """Decide the whole run on one of the registered stacks; GeneratorError (one line) when
    the options cannot be met."""
    return make.plan_run(options, PROFILES)


def models() -> tuple[ModelSpec, ...]:
    """The model catalogue, in order (entries have .name .params .invented .hub_id .family)."""
    return MODELS


def gpu_types() -> tuple[GpuSpec, ...]:
    """The GPU catalogue (entries have .short .name .memory_mib .peak_tflops .tdp_w)."""
    return GPUS
