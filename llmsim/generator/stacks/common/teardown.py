"""What a process prints at interpreter exit when its NCCL process group was never destroyed.

ProcessGroupNCCL's destructor (torch 2.8.0 ProcessGroupNCCL.cpp:1538, 2.9.0 :1524; read from
libtorch_cuda.so) warns once through TORCH_WARN_ONCE, and only where `rank_ %
localDeviceCount_ == 0`: with every GPU of the node visible to each process, local rank 0 of
each node. Neither the HF Trainer nor the example script calls destroy_process_group(), nor does
Megatron's pretrain(); torchtitan's train.py does (no warning).
"""

from __future__ import annotations

from collections.abc import Sequence

from llmsim.generator.stacks.common.torchlines import DESTROY_WARNING, torch_lines
from llmsim.generator.stacks.context import Context


def destroy_warnings(ctx: Context, ranks: Sequence[int]) -> None:
    """The warning of each printing rank that is its node's local rank 0, at exit."""
    c = ctx.config
    if c.gpus == 1:
        return
    line = f"ProcessGroupNCCL.cpp:{torch_lines(c.torch_version).pgnccl['destroy']}"
    start = ctx.clock.t + float(ctx.rng.uniform(0.5, 2.0))
    end = start
    for rank in ranks:
        if c.local_rank(rank) == 0:
            ctx.clock.t = start + float(ctx.rng.uniform(0.0, 0.3))
            ctx.logger("train", "c10", rank=rank).warning(DESTROY_WARNING, line)
            end = max(end, ctx.clock.t)
    ctx.clock.t = end
