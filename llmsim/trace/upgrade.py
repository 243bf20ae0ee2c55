"""Reading older minor versions: the run-config keys a 2.x trace left implicit, as the player of
its time derived them.

Up to 2.2 the player knew four facts of a run from its stack's name: whether the stack prints a
line after step 1, where it writes its checkpoints, whether it evaluates once more after its
loop, and whether its last save holds the model only. 2.3 writes them into the config (the
generator's stack profiles decide them); a 2.0-2.2 config gets them here, from its stack, so
it plays as it always did. 2.4's keys (the terminal around the job) are optional. 2.5 adds
the post-training keys; a 2.0-2.4 run trained every weight and reported no rewards. One step
per version, as the trace format changes.
"""

from __future__ import annotations

from typing import Any, Final

# What 2.0-2.2 left implicit, per stack (the rest: the Trainer's defaults below).
_IMPLIED_2_2: Final[dict[str, dict[str, Any]]] = {
    "megatron": {
        "log_first_step": False,
        "checkpoint_dir": "{output_dir}/checkpoints",
        "eval_after_loop": True,
    },
    "torchtitan": {"checkpoint_dir": "./outputs/checkpoint", "last_save_model_only": True},
}
_DEFAULTS_2_2: Final[dict[str, Any]] = {
    "log_first_step": True,
    "checkpoint_dir": "{output_dir}",
    "eval_after_loop": False,
    "last_save_model_only": False,
}


# What 2.0-2.4 left implicit: full training, no adapters, no post-training keys.
_DEFAULTS_2_4: Final[dict[str, Any]] = {
    "adapter": "none",
    "lora_rank": 0,
    "lora_alpha": 0,
    "metric_keys": [],
    "eval_metric_keys": [],
    "reward_min": 0.0,
    "reward_max": 0.0,
    "step_prefix": "",
}


def upgrade_config(data: dict[str, Any], minor: int) -> dict[str, Any]:
    """The config of a trace of minor version `minor` with the keys of this version; keys it
    holds are kept (a config that holds something else is checked as it is)."""
    if minor < 3:
        data = _to_2_3(data)
    if minor < 5:
        data = _to_2_5(data)
    return data


def _to_2_5(data: dict[str, Any]) -> dict[str, Any]:
    """A 2.0-2.4 config with 2.5's keys: every weight trained (trainable_params = params)."""
    out = {**_DEFAULTS_2_4, **data}
    if "trainable_params" not in out and "params" in out:
        out["trainable_params"] = out["params"]
    return out


def _to_2_3(data: dict[str, Any]) -> dict[str, Any]:
    """A 2.0-2.2 config with 2.3's keys, from its stack."""
    stack = data.get("stack")
    implied = {**_DEFAULTS_2_2, **_IMPLIED_2_2.get(stack if isinstance(stack, str) else "", {})}
    out = dict(data)
    for key, value in implied.items():
        if key in out:
            continue
        if key == "checkpoint_dir":
            output_dir = out.get("output_dir")
            if not isinstance(output_dir, str):
                continue  # the check names the missing output_dir
            value = value.format(output_dir=output_dir)
        out[key] = value
    return out
