"""One home per stack and per fact (issue 19): the bounds, measured by tests/codebase.py.

- stack names and stack comparisons outside the profiles (generator/stacks/), the trace's
  vocabulary and the player's dialect registry: at most 4 (79 before the profiles);
- no import cycle anywhere in llmsim, counting every import statement (3 before);
- at most 12 modules loose at the generator's top (30 before);
- each fact of codebase.FACTS (checkpoint naming, topology, the final evaluation, corpus short
  names, bytes per parameter, the formatters) spelt out in its home only (before: 20, 20, 3,
  3, 2, 2, 1, 2 and 2 copies elsewhere);
- the registry names every stack of the vocabulary, in its order, and every stack folder is
  one the import contract protects (so adding a stack cannot skip the contract).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from codebase import (
    ROOT,
    fact_places,
    import_cycles,
    loose_generator_modules,
    stack_mentions,
)

from llmsim.generator.stacks.registry import PROFILES, STACKS
from llmsim.trace.vocab import STACKS as STACK_NAMES

STACKS_DIR = ROOT / "llmsim" / "generator" / "stacks"
SHARED = {"common"}  # what several stacks share: not a stack


def test_stack_names_stay_in_their_homes() -> None:
    mentions = stack_mentions()
    assert len(mentions) <= 4, "\n".join(f"{m.path}:{m.line}: {m.what}" for m in mentions)


def test_no_import_cycle_anywhere() -> None:
    assert import_cycles() == []


def test_the_cycle_finder_finds_a_cycle(tmp_path: Path) -> None:
    pkg = tmp_path / "cyclic_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclic_pkg import b\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import cyclic_pkg.a\n"
    )
    (pkg / "c.py").write_text("import cyclic_pkg.a\n")
    sys.path.insert(0, str(tmp_path))
    try:
        assert import_cycles("cyclic_pkg") == [["cyclic_pkg.a", "cyclic_pkg.b"]]
    finally:
        sys.path.remove(str(tmp_path))


def test_few_modules_loose_at_the_generators_top() -> None:
    assert len(loose_generator_modules()) <= 12


def test_the_registry_names_every_stack_in_order() -> None:
    assert tuple(STACKS) == STACK_NAMES
    assert all(profile.name == name for name, profile in PROFILES.items())


def test_every_stack_folder_is_registered_and_protected() -> None:
    folders = {
        p.name
        for p in STACKS_DIR.iterdir()
        if (p / "__init__.py").exists() and p.name not in SHARED
    }
    assert folders == {name.replace("-", "_") for name in STACKS}
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    protected = next(c for c in contracts if c["type"] == "protected")
    assert set(protected["protected_modules"]) == {
        f"llmsim.generator.stacks.{folder}" for folder in folders
    }
    assert protected["allowed_importers"] == ["llmsim.generator.stacks.registry"]


def test_each_fact_is_spelt_out_in_its_home_only() -> None:
    copies = {name: places for name, places in fact_places().items() if places}
    assert not copies, {n: [f"{m.path}:{m.line}" for m in p] for n, p in copies.items()}
