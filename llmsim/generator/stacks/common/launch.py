"""Launcher lines: torchrun's agent (glog style), the deepspeed runner and launch.py, srun.

Sources: torch/distributed/run.py, launcher/api.py, elastic/agent/server/api.py and
elastic/multiprocessing/api.py of torch 2.8.0 and 2.9.0 (wheels; line numbers below), and
deepspeed/launcher/runner.py, multinode_runner.py, launch.py of DeepSpeed 0.17.5 (tag v0.17.5,
the version the deepspeed stack pins: see hf_deepspeed/deepspeed.py). The agent logs at WARNING
unless LOGLEVEL=INFO; the worker-group lines need INFO. The deepspeed launcher processes log at
INFO (their --log_level); launch.py echoes every NCCL variable of its environment (main, 139),
and the runner hands them to srun in its `--export` list (EXPORT_ENVS and the accelerator's
`NCCL` prefix, runner.py:590-594; PYTHONPATH is the working directory, 576-580).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from llmsim.generator.rows import Logger
from llmsim.generator.stacks.context import Context

# torch version -> line of each agent log call (multi-line messages carry the first line).
_TORCHRUN_LINES: Final[dict[str, dict[str, int]]] = {
    "2.8": {
        "omp": 774,
        "operator": 199,
        "store": 296,
        "start": 869,
        "rdzv": 677,
        "rdzv_done": 523,
        "group": 685,
        "logdir": 278,
        "finished": 888,
        "local_done": 941,
        "waited": 955,
        "closing": 900,
        "kill": 919,
        "failed": 874,
        "restart": 898,
        "stopping": 703,
        "no_error_file": 370,
    },
    "2.9": {
        "omp": 803,
        "operator": 212,
        "store": 296,
        "start": 871,
        "rdzv": 679,
        "rdzv_done": 525,
        "group": 687,
        "logdir": 279,
        "finished": 890,
        "local_done": 943,
        "waited": 957,
        "closing": 908,
        "kill": 927,
        "failed": 882,
        "restart": 900,
        "stopping": 705,
        "no_error_file": 370,
    },
}
_FILES: Final = {
    "omp": "run.py",
    "operator": "launcher/api.py",
    "store": "elastic/agent/server/local_elastic_agent.py",
    "logdir": "elastic/multiprocessing/api.py",
    "closing": "elastic/multiprocessing/api.py",
    "kill": "elastic/multiprocessing/api.py",
    "failed": "elastic/multiprocessing/api.py",
    "no_error_file": "elastic/multiprocessing/errors/__init__.py",
}
# torch version -> (run.py main's `run(args)`, run's `elastic_launch(`, launcher/api.py's
# `return launch_agent(...)` and `raise ChildFailedError(`): ChildFailedError's traceback.
_TRACEBACK_LINES: Final[dict[str, tuple[int, int, int, int]]] = {
    "2.8": (901, 892, 143, 277),
    "2.9": (936, 927, 156, 293),
}
_STARS: Final = "*****************************************"
RDZV_PORT: Final = 29500


def _minor(ctx: Context) -> str:
    return ".".join(ctx.config.torch_version.split(".")[:2])


def origin(ctx: Context, key: str) -> str:
    """The agent's `pid path:line` of one of its log calls."""
    return _origin(ctx, key)


def _origin(ctx: Context, key: str) -> str:
    lines = _TORCHRUN_LINES[_minor(ctx)]
    path = _FILES.get(key, "elastic/agent/server/api.py")
    return f"{ctx.agent_pid} torch/distributed/{path}:{lines[key]}"


def torchrun_start(ctx: Context, info: bool) -> None:
    """What the torchrun agent prints before the workers start (after an elastic restart of
    its worker group: the rendezvous again, the agent's launch lines were printed once)."""
    c = ctx.config
    log = ctx.init.at("torchrun")
    if ctx.attempt.elastic:
        if info:
            log.info(
                f"[{ctx.profile.agent_role}] Rendezvous'ing worker group",
                _origin(ctx, "rdzv"),
                dt=0.2,
            )
            _rendezvous(ctx, float(ctx.rng.uniform(1.0, 4.0)) if c.nodes > 1 else 0.05)
            log.info(f"[{ctx.profile.agent_role}] Starting worker group", _origin(ctx, "group"))
        return
    if c.gpus_per_node > 1:
        omp = (
            "",
            _STARS,
            "Setting OMP_NUM_THREADS environment variable for each process to be "
            "1 in default, to avoid your system being overloaded, please further tune the "
            "variable for optimal performance in your application as needed. ",
            _STARS,
        )
        log.lines(omp, _origin(ctx, "omp"), "WARNING", dt=0.2)
    if not info:
        return
    rng = ctx.rng
    head = ctx.ip(0) if ctx.profile.rdzv_by_ip else ctx.hosts[0]
    endpoint = f"{head}:{RDZV_PORT}" if c.nodes > 1 else "localhost:0"
    run_id = str(int(rng.integers(10**8, 10**9))) if c.nodes > 1 else "none"
    if c.nodes > 1 and ctx.profile.rdzv_id is not None:  # the launch script's --rdzv_id
        run_id = ctx.profile.rdzv_id
    tmp = "".join("abcdefghijklmnopqrstuvwxyz0123456789"[int(i)] for i in rng.integers(0, 36, 8))
    keys = [
        ("entrypoint", ctx.profile.entrypoint),
        ("min_nodes", c.nodes),
        ("max_nodes", c.nodes),
        ("nproc_per_node", c.gpus_per_node),
        ("run_id", run_id),
        ("rdzv_backend", "c10d"),
        ("rdzv_endpoint", endpoint),
        ("rdzv_configs", "{'timeout': 900}"),
        ("max_restarts", ctx.plan.flags.max_restarts),
        ("monitor_interval", 0.1),
        ("log_dir", f"/tmp/torchelastic_{tmp}"),
        ("metrics_cfg", "{}"),
        ("event_log_handler", "null"),
    ]
    if c.torch_version.startswith("2.9"):
        keys.append(("numa_options", "None"))
    block = [
        "Starting elastic_operator with launch configs:",
        *(f"  {k:<19}: {v}" for k, v in keys),
        "",
    ]
    log.lines(block, _origin(ctx, "operator"), dt=0.1)
    log.info("use_agent_store: True", _origin(ctx, "store"), dt=0.01)
    # WorkerSpec.get_entrypoint_name: the basename of the executable the workers run
    python = ctx.python.rsplit("/", 1)[-1]
    log.info(
        f"[{ctx.profile.agent_role}] starting workers for entrypoint: {python}",
        _origin(ctx, "start"),
    )
    log.info(f"[{ctx.profile.agent_role}] Rendezvous'ing worker group", _origin(ctx, "rdzv"))
    _rendezvous(ctx, float(rng.uniform(1.0, 4.0)) if c.nodes > 1 else 0.05)
    log.info(f"[{ctx.profile.agent_role}] Starting worker group", _origin(ctx, "group"))
    log.info(
        f"log directory set to: /tmp/torchelastic_{tmp}/{run_id}_{_tmp(rng)}",
        _origin(ctx, "logdir"),
        dt=0.002,
    )


def _tmp(rng: np.random.Generator) -> str:
    return "".join("abcdefghijklmnopqrstuvwxyz0123456789_"[int(i)] for i in rng.integers(0, 37, 8))


def _rendezvous(ctx: Context, wait: float) -> None:
    """`_rendezvous`'s result block (after an elastic restart it counts the restarts)."""
    c = ctx.config
    local = list(range(c.gpus_per_node))
    world = [c.gpus] * c.gpus_per_node
    block = [
        f"[{ctx.profile.agent_role}] Rendezvous complete for workers. Result:",
        f"  restart_count={ctx.attempt.number if ctx.attempt.elastic else 0}",
        f"  master_addr={ctx.hosts[0]}",
        f"  master_port={ctx.master_port}",
        "  group_rank=0",
        f"  group_world_size={c.nodes}",
        f"  local_ranks={local}",
        f"  role_ranks={local}",
        f"  global_ranks={local}",
        f"  role_world_sizes={world}",
        f"  global_world_sizes={world}",
        "  event_log_handler=null",
        "",
    ]
    ctx.init.at("torchrun").lines(block, _origin(ctx, "rdzv_done"), dt=wait)


def torchrun_end(ctx: Context, info: bool) -> None:
    """The agent's lines after the workers exit cleanly (INFO only)."""
    if not info:
        return
    log = ctx.close.at("torchrun")
    log.info(
        f"[{ctx.profile.agent_role}] worker group successfully finished. Waiting 300 seconds "
        "for other "
        "agents to finish.",
        _origin(ctx, "finished"),
        dt=0.1,
    )
    log.info(
        "Local worker group finished (WorkerState.SUCCEEDED). Waiting 300 seconds for "
        "other agents to finish",
        _origin(ctx, "local_done"),
    )
    wait = (
        float(ctx.rng.uniform(0.2, 2.0))
        if ctx.config.nodes > 1
        else float(ctx.rng.uniform(2e-4, 9e-4))
    )
    log.info(
        f"Done waiting for other agents. Elapsed: {wait!r} seconds", _origin(ctx, "waited"), dt=wait
    )


# DeepSpeed 0.17.5: file:line:function of each launcher log call
DS_AT: Final[dict[str, str]] = {
    "accelerator": "real_accelerator.py:260:get_accelerator",
    "hostfile": "runner.py:220:fetch_hostfile",
    "ip": "runner.py:499:main",
    "cmd": "runner.py:610:main",
    "nccl_env": "launch.py:139:main",
    "world_info": "launch.py:146:main",
    "nnodes": "launch.py:152:main",
    "mapping": "launch.py:163:main",
    "world_size": "launch.py:164:main",
    "visible": "launch.py:168:main",
    "spawned": "launch.py:256:main",
    "killing": "launch.py:319:sigkill_handler",
    "exit_code": "launch.py:325:sigkill_handler",
    "exit_ok": "launch.py:351:main",
}
WORKDIR: Final = "/workspace"  # where the job is launched (the runner's PYTHONPATH)


def _imported(log: Logger, dt: float) -> None:
    """A launcher process importing deepspeed: the accelerator's detection and the default
    TorchCheckpointEngine argument of runtime/engine.py:2873 (logged before any process group,
    hence `[Rank -1]`, through utils/logging.py:107)."""
    log.info("Setting ds_accelerator to cuda (auto detect)", DS_AT["accelerator"], dt=dt)
    log.info(
        "[Rank -1] [TorchCheckpointEngine] Initialized with serialization = False",
        "logging.py:107:log_dist",
        dt=0.3,
    )


def deepspeed_start(ctx: Context, script: str, args: str) -> None:
    """The deepspeed runner, and launch.py on one node (srun across several)."""
    c = ctx.config
    log = ctx.init.at("deepspeed")
    nccl_debug = ctx.plan.flags.nccl_debug
    _imported(log, 1.2)
    if c.nodes == 1:
        log.warning(
            "Unable to find hostfile, will proceed with training with local resources only.",
            DS_AT["hostfile"],
            dt=0.6,
        )
        ids = ", ".join(str(i) for i in range(c.gpus_per_node))
        world = _world_info(c.gpus_per_node)
        log.info(
            f"cmd = {ctx.python} -u -m deepspeed.launcher.launch --world_info={world} "
            f"--master_addr=127.0.0.1 --master_port={ctx.master_port} "
            f"--enable_each_rank_log=None {script} {args}",
            DS_AT["cmd"],
        )
        _imported(log, 1.1)
        log.info(f"0 NCCL_DEBUG={nccl_debug}", DS_AT["nccl_env"], dt=0.01)
        log.info(f"WORLD INFO DICT: {{'localhost': [{ids}]}}", DS_AT["world_info"])
        log.info(f"nnodes=1, num_local_procs={c.gpus_per_node}, node_rank=0", DS_AT["nnodes"])
        log.info(
            f"global_rank_mapping=defaultdict(<class 'list'>, {{'localhost': [{ids}]}})",
            DS_AT["mapping"],
        )
        log.info(f"dist_world_size={c.gpus}", DS_AT["world_size"])
        log.info(f"Setting CUDA_VISIBLE_DEVICES={ids.replace(', ', ',')}", DS_AT["visible"])
        for rank in range(c.gpus_per_node):
            log.info(
                f"process {ctx.worker_pid(rank)} spawned with command: "
                f"['{ctx.python}', '-u', '{script}', '--local_rank={rank}', "
                f"{_quoted(args)}]",
                DS_AT["spawned"],
                dt=0.004,
            )
        return
    ip = ctx.ip(0)
    log.info(f"Using IP address of {ip} for node {ctx.hosts[0]}", DS_AT["ip"], dt=0.3)
    log.info(
        f"cmd = srun -n {c.gpus} --nodes {c.nodes} --export=ALL,NCCL_DEBUG={nccl_debug},"
        f"PYTHONPATH={WORKDIR} {ctx.python} -u {script} {args}",
        DS_AT["cmd"],
    )


def _world_info(gpus: int) -> str:
    import base64
    import json

    raw = json.dumps({"localhost": list(range(gpus))}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _quoted(args: str) -> str:
    return ", ".join(f"'{a}'" for a in args.split())


def deepspeed_end(ctx: Context) -> None:
    """launch.py's lines when the workers exit (one node)."""
    if ctx.config.nodes > 1:
        return
    log = ctx.close.at("deepspeed")
    for rank in range(ctx.config.gpus_per_node):
        log.info(
            f"Process {ctx.worker_pid(rank)} exits successfully.",
            DS_AT["exit_ok"],
            dt=float(ctx.rng.uniform(0.0, 0.05)),
        )


def run_frames(ctx: Context, torch: str) -> list[str]:
    """The traceback frames of run.py and launcher/api.py down to `raise ChildFailedError(`."""
    main, run, call, raise_at = _TRACEBACK_LINES[_minor(ctx)]
    return [
        f'  File "{torch}/run.py", line {main}, in main',
        "    run(args)",
        f'  File "{torch}/run.py", line {run}, in run',
        "    elastic_launch(",
        f'  File "{torch}/launcher/api.py", line {call}, in __call__',
        "    return launch_agent(self._config, self._entrypoint, list(args))",
        "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        f'  File "{torch}/launcher/api.py", line {raise_at}, in launch_agent',
        "    raise ChildFailedError(",
    ]


def deepspeed_worker_cmd(ctx: Context, rank: int, args: str) -> str:
    """The command list launch.py spawned for a local rank, as Python prints it."""
    script = ctx.profile.entrypoint
    return f"['{ctx.python}', '-u', '{script}', '--local_rank={rank}', {_quoted(args)}]"
