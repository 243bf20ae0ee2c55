"""What a stack's checkpoint converter writes: the dtype of its weights, how it splits them into
files and which companion files it writes beside them (phases/export.py writes the rows; the
shell's `ls -lh` and upload list the same files).

- `save_pretrained` (the default): bf16 shards of at most 5 GB, config, tokenizer and index.
- `accelerate merge-weights` (accelerate 1.11.0 `utils/fsdp_utils.py:merge_fsdp_weights`): one
  `model.safetensors` in the checkpoint's dtype, nothing else.
- DeepSpeed's `zero_to_fp32.py --safe_serialization` (0.17.5): fp32 shards of at most 5 GB
  (`--max_shard_size 5GB`, `split_torch_state_dict_into_shards`) and the index.
- torchtitan's `convert_to_hf.py` and Megatron-Bridge's export keep the Hub release's sharding
  (its `model.safetensors.index.json`: the bf16 5 GB split), torchtitan's in fp32 (it loads
  the checkpoint into a float32 model); the Bridge writes config, generation config and
  tokenizer files too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from llmsim.generator.catalog.architecture import BF16_BYTES, MAX_SHARD_BYTES, ModelSpec, shards

FP32_BYTES: Final = 4
INDEX: Final = "model.safetensors.index.json"


@dataclass(frozen=True)
class ExportForm:
    """The files a converter writes."""

    dtype_bytes: int = BF16_BYTES  # bytes per parameter in the files written
    max_shard_bytes: int | None = MAX_SHARD_BYTES  # None: one model.safetensors
    original_split: bool = False  # the Hub release's (bf16, 5 GB) split, whatever the dtype
    companions: frozenset[str] | None = None  # names kept of save_pretrained's (None: all)

    def parts(self, spec: ModelSpec) -> list[list[tuple[str, int]]]:
        """The weight files' tensors, (name, bytes) each, in file order."""
        scale = self.dtype_bytes / BF16_BYTES
        if self.max_shard_bytes is None:
            every = [t for part in shards(spec) for t in part]
            return [[(name, int(b * scale)) for name, b in every]]
        split = (
            shards(spec) if self.original_split else shards(spec, int(self.max_shard_bytes / scale))
        )
        return [[(name, int(b * scale)) for name, b in part] for part in split]

    def keeps(self, name: str) -> bool:
        """Whether the converter writes the companion file `name`."""
        return self.companions is None or name in self.companions


SAVE_PRETRAINED: Final = ExportForm()
MERGE_WEIGHTS: Final = ExportForm(max_shard_bytes=None, companions=frozenset())
ZERO_TO_FP32: Final = ExportForm(dtype_bytes=FP32_BYTES, companions=frozenset({INDEX}))
TITAN_TO_HF: Final = ExportForm(
    dtype_bytes=FP32_BYTES, original_split=True, companions=frozenset({INDEX})
)
BRIDGE_EXPORT: Final = ExportForm(original_split=True)
