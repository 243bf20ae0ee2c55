"""Temporary: the generator's private numbers per run, until the typed run plan replaces them."""

from __future__ import annotations

from typing import Any

from llmsim.trace.config import RunConfig

_PRIVATE: dict[RunConfig, dict[str, Any]] = {}


def remember(config: RunConfig, numbers: dict[str, Any]) -> None:
    """Keep the private numbers of a run."""
    _PRIVATE[config] = numbers


def extra_of(config: RunConfig) -> dict[str, Any]:
    """The private numbers of a run ({} if unknown)."""
    return _PRIVATE.get(config, {})
