"""The dialects read a run's facts from its trace (format 2.3) and derive none from the stack's
name: the evaluation after the loop, where checkpoints go, the model-only last save, which
steps print and which bars stay."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from synthetic import config as synthetic_config

from llmsim.player.dialects import Line, Stamps, dialect_for
from llmsim.trace import Event, RunConfig
from llmsim.trace.vocab import Stack

WHEN = 1_767_225_600.0


def _config(stack: Stack, **facts: Any) -> RunConfig:
    return dataclasses.replace(synthetic_config(), stack=stack, **facts)


def _text(lines: list[Line]) -> str:
    return "\n".join(line.text for line in lines)


@pytest.mark.parametrize("after_loop", [True, False])
def test_megatron_names_the_evaluation_after_the_loop_as_the_config_says(after_loop: bool) -> None:
    c = _config("megatron", eval_after_loop=after_loop)
    dialect = dialect_for(c, Stamps())
    last = Event(1.0, "eval", "eval", step=c.total_steps, val_loss=2.0, val_ppl=7.4)
    text = _text(dialect.eval(last, WHEN))
    assert (f"at iteration {c.total_steps} on validation set" in text) is after_loop
    middle = Event(1.0, "eval", "eval", step=c.eval_interval, val_loss=2.0, val_ppl=7.4)
    assert "on validation set" not in _text(dialect.eval(middle, WHEN))


def test_megatron_saves_where_the_config_says() -> None:
    c = _config("megatron", checkpoint_dir="/lustre/ckpt/run-7")
    ev = Event(1.0, "checkpoint", "checkpoint", step=30, path="iter_0000030", elapsed=3.0)
    text = _text(dialect_for(c, Stamps()).checkpoint(ev, WHEN))
    assert "to /lustre/ckpt/run-7 [ t 1/2, p 1/1 ]" in text


@pytest.mark.parametrize("model_only", [True, False])
def test_torchtitan_prints_no_closing_line_for_a_model_only_last_save(model_only: bool) -> None:
    c = _config("torchtitan", last_save_model_only=model_only)
    dialect = dialect_for(c, Stamps())
    last = Event(1.0, "checkpoint", "checkpoint", step=c.total_steps, elapsed=2.0)
    assert (dialect.checkpoint(last, WHEN) == []) is model_only
    regular = Event(1.0, "checkpoint", "checkpoint", step=c.checkpoint_interval, elapsed=2.0)
    assert "Finished saving the checkpoint" in _text(dialect.checkpoint(regular, WHEN))


@pytest.mark.parametrize("stack", ["hf", "megatron", "torchtitan"])
@pytest.mark.parametrize("first", [True, False])
def test_step_one_prints_as_the_config_says(stack: Stack, first: bool) -> None:
    c = _config(stack, log_first_step=first, log_interval=10)
    dialect = dialect_for(c, Stamps())
    ev = Event(1.0, "step", "train", step=1, loss=2.0, lr=1e-4, grad_norm=1.0, epoch=1)
    assert bool(dialect.step(ev, WHEN)) is first


def test_only_the_trainer_keeps_its_loading_bar() -> None:
    kept = {
        s: dialect_for(_config(s), Stamps()).kept_bars for s in ("hf", "megatron", "torchtitan")
    }
    assert "load_checkpoint" in kept["hf"]
    assert kept["megatron"] == kept["torchtitan"] == frozenset()
