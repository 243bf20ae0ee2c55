"""Export of a LoRA run that keeps its adapters: PEFT's `save_pretrained` of the final adapters.

The run's own script (tool lines, origin `export`) saves what `PeftModel.save_pretrained`
writes (peft 0.17.1): `adapter_model.safetensors` (the fp32 A and B matrices, 4 bytes a
trainable parameter and the safetensors header), `adapter_config.json` (sorted keys, indent 2,
its exact length), PEFT's model card `README.md`, and the tokenizer files. A run that merges
instead (`merge_and_unload` then `save_pretrained`) exports the full bf16 model like any other
(phases/export.py); RL runs export their policy that way.
"""

from __future__ import annotations

import numpy as np

from llmsim.generator.catalog.models import base_repo, tokenizer_file_bytes, tokenizer_files
from llmsim.generator.phases.telemetry import EXPORT, Segment
from llmsim.generator.plan.adapters import adapter_config, safetensors_bytes, tensor_names
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.rows import Clock, Rows

ORIGIN = "export"
README_BYTES = (4_900, 5_300)  # PEFT's model card template with the base model's name


def exports_adapter(plan: RunPlan) -> bool:
    """Whether the run's export is its adapters alone."""
    post = plan.choice.post
    return (
        post is not None
        and post.lora is not None
        and plan.config.adapter != "none"
        and not post.merge
    )


def events(plan: RunPlan, rng: np.random.Generator, t0: float) -> tuple[Rows, float, list[Segment]]:
    """Rows of the adapter export, starting at t0; when it ends; what the GPUs did."""
    c, spec = plan.config, plan.choice.model
    post = plan.choice.post
    assert post is not None and post.lora is not None
    rows, clock = Rows(), Clock(t0)
    log = rows.logger("export", "tool", clock, ORIGIN)
    final = f"{c.output_dir}/final"
    rows.phase(t0, "export", "Export")
    source = plan.profile.checkpoint_path(c.output_dir, c.total_steps)
    kind = "QLoRA" if c.adapter == "qlora" else "LoRA"
    log.info(
        f"Saving the {kind} adapter of {source} (r={post.lora.rank}, alpha={post.lora.alpha}) "
        f"to {final}/ (PEFT, fp32 SafeTensors)",
        dt=float(rng.uniform(0.5, 1.5)),
    )
    n_tensors = len(tensor_names(spec, post.lora))
    weights = safetensors_bytes(spec, post.lora)
    span = weights / 1.5e9 + 0.3
    rows.progress(
        clock.t,
        span,
        "export",
        "serialize",
        "Serializing to SafeTensors",
        n_tensors,
        "tensors",
        min(n_tensors, 20),
    )
    clock.tick(span + 0.2)
    files = [
        ("adapter_model.safetensors", weights),
        ("adapter_config.json", len(adapter_config(base_repo(spec), post.lora, rng))),
        ("README.md", int(rng.integers(*README_BYTES))),
        *((name, tokenizer_file_bytes(spec, name)) for name in tokenizer_files(spec)),
        ("tokenizer_config.json", int(rng.integers(3_000, 55_000))),
        ("special_tokens_map.json", int(rng.integers(290, 620))),
    ]
    for name, size in files:
        clock.tick(float(rng.uniform(0.01, 0.08)) + size / 2e9)
        rows.add(clock.t, "file", "export", path=name, size_bytes=size)
    total = sum(size for _, size in files)
    log.info(
        f"Export complete: {total / 1e6:,.1f} MB in {final}/ (adapter_model.safetensors, "
        f"{len(files) - 1} other files)",
        dt=0.05,
    )
    return rows, clock.t, [Segment(t0, clock.t, "export", EXPORT, 1.0, 0.3)]
