"""The generator: precomputes whole simulated training runs into Parquet traces (numerics only)."""

from llmsim.generator.build import generate, write_trace
from llmsim.generator.catalogue import GPU_TYPES, MODEL_NAMES
from llmsim.generator.config import build_config
from llmsim.generator.options import GenerateOptions, GeneratorError

__all__ = [
    "GPU_TYPES",
    "MODEL_NAMES",
    "GenerateOptions",
    "GeneratorError",
    "build_config",
    "generate",
    "write_trace",
]
