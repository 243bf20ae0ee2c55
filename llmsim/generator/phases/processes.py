"""nvidia-smi's process list on rank 0's node: trace 2.4's `process` rows.

A worker shows in the list from when it creates its CUDA context (its start-up, as the stack's
init says when its workers start) until it exits; its PID is the one its launcher's and NCCL's
lines print (Context.worker_pid), its name the interpreter's path. Runs in a container (pyxis,
Kubernetes) leave the list empty: nvidia-smi there finds no process of its own PID namespace.
The exits are written with the node's samples (phases/node_telemetry.py), where the job's
memory leaves the GPUs.
"""

from __future__ import annotations

from llmsim.generator.stacks.context import Context


def started(ctx: Context, t: float, containerised: bool) -> None:
    """Node 0's workers of this launch appear in the list at `t` (none if the launch does not
    run on the monitored node: a replacement took its place)."""
    c = ctx.config
    if containerised or ctx.hosts[0] != c.hostnames[0]:
        return
    for rank in range(c.gpus_per_node):
        ctx.rows.add(
            t + 0.001 * rank,
            "process",
            "init",
            op="start",
            rank=rank,
            origin=str(ctx.worker_pid(rank)),
            text=ctx.python,
        )
