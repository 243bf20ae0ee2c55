"""Facts about llmsim's own source that the one-home rules bound (issue 19), measured the same
way every time: stack names and comparisons outside the stack profiles, import cycles, modules
loose at the generator's top, and the places that spell out a fact meant to have one home.

`python tests/codebase.py [ROOT]` prints every count (ROOT: a checkout, this one by default);
tests/test_one_home.py asserts the bounds.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import grimp

ROOT = Path(__file__).resolve().parent.parent
STACK_NAMES = frozenset({"hf", "hf-deepspeed", "megatron", "torchtitan", "trl", "verl"})
# Where stack names belong: the profiles, the trace's vocabulary, the player's dialect registry.
STACK_HOMES = ("generator/stacks/", "trace/vocab.py", "player/dialects/__init__.py")
# Names that are not stacks although they are spelt like one: the `hf` log format.
_LOG_FORMAT_NAMES = frozenset({"fmt", "source"})


@dataclass(frozen=True)
class Mention:
    """A stack name or a comparison with a stack, at a place in the source."""

    path: str
    line: int
    what: str


def _modules(root: Path) -> Iterator[tuple[str, ast.Module]]:
    package = root / "llmsim"
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        yield rel, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _names_a_stack(node: ast.AST) -> bool:
    """A stack's name (a string constant) or HF_STACKS."""
    if isinstance(node, ast.Constant):
        return node.value in STACK_NAMES
    if isinstance(node, ast.Name):
        return node.id == "HF_STACKS"
    return isinstance(node, ast.Attribute) and node.attr == "HF_STACKS"


def _is_log_format(node: ast.expr) -> bool:
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return name in _LOG_FORMAT_NAMES


def stack_mentions(root: Path = ROOT) -> list[Mention]:
    """Every stack name (a string constant), every use of HF_STACKS and every comparison that
    names a stack (`stack == "megatron"`, `c.stack in HF_STACKS`) outside STACK_HOMES, each
    counted once: a comparison that names a stack is one mention, not two. Comparisons that
    name no stack (`stack is None`, `s == stack`) do not count: they treat every stack alike."""
    out: list[Mention] = []
    for rel, tree in _modules(root):
        if rel.startswith(STACK_HOMES):
            continue
        inside: set[int] = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare):
                continue
            operands = [node.left, *node.comparators]
            parts = [n for o in operands for n in ast.walk(o)]
            if any(_is_log_format(o) for o in operands):  # `fmt == "hf"`: the log format
                inside.update(id(n) for n in parts)
                continue
            if any(_names_a_stack(n) for n in parts):
                out.append(Mention(rel, node.lineno, ast.unparse(node)[:70]))
                inside.update(id(n) for n in parts)
        for node in ast.walk(tree):
            if id(node) not in inside and _names_a_stack(node):
                out.append(Mention(rel, getattr(node, "lineno", 0), ast.unparse(node)[:70]))
    return sorted(out, key=lambda m: (m.path, m.line))


def import_cycles(package: str = "llmsim") -> list[list[str]]:
    """The module-level import cycles of `package` (strongly connected components of more than
    one module, or a module importing itself). Every import statement counts: inside functions
    and under TYPE_CHECKING too."""
    graph = grimp.build_graph(package, cache_dir=None)
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:  # Tarjan's algorithm, iteratively (no recursion limit)
        nonlocal counter
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return sorted(found)


def loose_generator_modules(root: Path = ROOT) -> list[str]:
    """Modules at the top of llmsim/generator/ (its __init__ not counted)."""
    top = root / "llmsim" / "generator"
    return sorted(p.name for p in top.glob("*.py") if p.name != "__init__.py")


# A fact meant to have one home -> a pattern that spells it out, and the files that are its home
# (prefixes under llmsim/). Every other line that matches is a copy of the fact.
PROFILES: Final = (
    "generator/stacks/common/trainer_profile.py",
    "generator/stacks/megatron/profile.py",
    "generator/stacks/torchtitan/profile.py",
)
FACTS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    # a checkpoint's folder name or the folder they go into (`checkpoint-N`, `iter_NNNNNNN`,
    # `step-N`, `.../checkpoints`, torchtitan's `./outputs/checkpoint`): the profiles' patterns,
    # and what 2.0-2.2 traces left implicit
    "checkpoint naming": (
        r"checkpoint-\{|iter_\{|step-\{|/checkpoints\b|outputs/checkpoint\b|CHECKPOINT_FOLDER",
        (*PROFILES, "trace/upgrade.py"),
    ),
    # which node or slot a rank is on, how many nodes a job has
    "cluster topology": (
        r"//\s*\S*gpus_per_node|%\s*\S*gpus_per_node|divmod\(\w+, \S*gpus_per_node\)"
        r"|//\s*GPUS_PER_NODE|min\(\s*gpus,\s*GPUS_PER_NODE",
        ("trace/config.py", "generator/plan/layout.py"),
    ),
    # the evaluation after the loop: when it happens, and that the save before it comes first
    "final evaluation rule": (
        r"every \|= steps == (c\.)?total|stack == \"megatron\" and step == c\.total_steps"
        r"|step == c\.total_steps and step % c\.eval_interval|evaluates_after_loop and step ==",
        ("generator/plan/profile.py",),
    ),
    # corpus short names by Hub id (torchtitan's keys, Megatron's data prefixes)
    "corpus short-name tables": (r"\"allenai/c4\"", ("generator/catalog/datasets.py",)),
    # tables of bytes per parameter (states, checkpoints)
    "bytes-per-parameter tables": (
        r"^(_?STATE_BYTES|CHECKPOINT_BYTES_PER_PARAM)\b",
        ("generator/plan/memory.py",),
    ),
    # formatters of sizes, durations, parameter counts, sparklines (not parsers, not the
    # stacks' own formats)
    "size formatters": (r"def (format_size|size|gigabytes)\((size|n)", ("units.py",)),
    "duration formatters": (
        r"def (format_duration|duration|_full_duration)\(seconds",
        ("units.py",),
    ),
    "parameter-count formatters": (r"def (format_params|size_label)\(", ("units.py",)),
    "sparklines": (r"def (sparkline|_spark)\(|g\.spark\[round", ("units.py",)),
}


def fact_places(root: Path = ROOT, *, homes: bool = False) -> dict[str, list[Mention]]:
    """Where each fact of FACTS is spelt out outside its homes (`homes`: everywhere)."""
    out: dict[str, list[Mention]] = {name: [] for name in FACTS}
    package = root / "llmsim"
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        if rel.startswith("player/assets"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for name, (pattern, allowed) in FACTS.items():
                if re.search(pattern, line) and (homes or not rel.startswith(allowed)):
                    out[name].append(Mention(rel, n, line.strip()[:70]))
    return out


def main(argv: list[str]) -> int:
    """Print every count for the checkout at argv[0] (this one by default)."""
    root = Path(argv[0]).resolve() if argv else ROOT
    mentions = stack_mentions(root)
    print(f"stack names/comparisons outside the profiles: {len(mentions)}")
    by_module: dict[str, int] = {}
    for m in mentions:
        by_module[m.path] = by_module.get(m.path, 0) + 1
    for path, n in sorted(by_module.items(), key=lambda kv: -kv[1]):
        print(f"  {n:3d}  {path}")
    sys.path.insert(0, str(root))
    cycles = import_cycles()
    print(f"import cycles: {len(cycles)}")
    for cycle in cycles:
        print("  " + " <-> ".join(cycle))
    loose = loose_generator_modules(root)
    print(f"modules loose at generator's top: {len(loose)}")
    everywhere = fact_places(root, homes=True)
    for name, places in fact_places(root).items():
        print(f"{name}: {len(places)} outside its home ({len(everywhere[name])} in all)")
        for m in places:
            print(f"    {m.path}:{m.line}: {m.what}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
