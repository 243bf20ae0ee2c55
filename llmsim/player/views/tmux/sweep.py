"""The whole cluster as an engineer sweeps it: pdsh over every node, nvidia-smi's CSV, sorted.

`pdsh -w <hostlist> nvidia-smi --query-gpu=... --format=csv,noheader | sort -t, -k2 -n`: pdsh
2.34 prefixes each line with `host: ` and compresses the host list as `dgx-h100-[107-170]`;
`sort -t, -k2 -n` puts the least busy GPUs first (a straggler, a GPU idling in a hung job),
ties in byte order of the whole line (LC_ALL=C). A node whose GPU fell off the bus prints
nvidia-smi's error on stderr, which does not go through `sort`: those lines come first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from llmsim.player.views.tmux.nvsmi import SWEEP_FIELDS, lost_line
from llmsim.trace import Event
from llmsim.trace.vocab import Health

_NUMBERED: Final = re.compile(r"^(.*?)(\d+)$")


def hostlist(hosts: Sequence[str]) -> str:
    """pdsh's compressed host list: `dgx-h100-[107-170]`, `a01,b[02-03]`."""
    groups: dict[tuple[str, int], list[int]] = {}
    order: list[tuple[str, int] | str] = []
    for host in hosts:
        m = _NUMBERED.match(host)
        if m is None:
            order.append(host)
            continue
        key = (m.group(1), len(m.group(2)))
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(int(m.group(2)))
    out: list[str] = []
    for item in order:
        if isinstance(item, str):
            out.append(item)
            continue
        prefix, digits = item
        numbers = sorted(set(groups[item]))
        if len(numbers) == 1:
            out.append(f"{prefix}{numbers[0]:0{digits}d}")
            continue
        ranges: list[str] = []
        start = prev = numbers[0]
        for n in [*numbers[1:], None]:
            if n is not None and n == prev + 1:
                prev = n
                continue
            ranges.append(
                f"{start:0{digits}d}" if start == prev else f"{start:0{digits}d}-{prev:0{digits}d}"
            )
            if n is not None:
                start = prev = n
        out.append(f"{prefix}[{','.join(ranges)}]")
    return ",".join(out)


def command(hosts: Sequence[str]) -> str:
    """The command line the cluster window's `watch` runs."""
    return (
        f"pdsh -w {hostlist(hosts)} nvidia-smi --query-gpu={SWEEP_FIELDS} "
        "--format=csv,noheader | sort -t, -k2 -n"
    )


def sweep(ev: Event, hosts: Sequence[str], per_node: int, limit: int) -> list[str]:
    """The first `limit` lines of the sweep of telemetry row `ev` (every GPU of the cluster)."""
    util, temp = ev.gpu_util or (), ev.gpu_temp or ()
    power, mem, health = ev.gpu_power or (), ev.gpu_mem or (), ev.gpu_health or ()
    count = max(len(util), len(temp), len(power), len(mem), len(health))

    def at(values: Sequence[float], i: int) -> float:
        return values[i] if i < len(values) else 0.0

    per = max(1, per_node)
    errors: list[str] = []
    rows: list[tuple[int, str]] = []
    dead: set[int] = set()
    for rank, h in enumerate(health):
        if h == Health.LOST:
            node = rank // per
            if node not in dead:
                dead.add(node)
                errors.append(f"{_host(hosts, node)}: {lost_line(rank % per)}")
    for rank in range(count):
        node = rank // per
        if node in dead:
            continue
        busy = round(at(util, rank))
        line = (
            f"{_host(hosts, node)}: {rank % per}, {busy} %, {round(at(temp, rank))}, "
            f"{at(power, rank):.2f} W, {round(at(mem, rank))} MiB"
        )
        rows.append((busy, line))
    if len(rows) > limit:  # only the first `limit` lines are seen: the least busy ones
        rows = _smallest(rows, limit)
    rows.sort(key=lambda r: (r[0], r[1].encode()))
    return (errors + [line for _, line in rows])[:limit]


def _smallest(rows: list[tuple[int, str]], limit: int) -> list[tuple[int, str]]:
    import heapq

    return heapq.nsmallest(limit, rows, key=lambda r: (r[0], r[1].encode()))


def _host(hosts: Sequence[str], node: int) -> str:
    return hosts[node] if node < len(hosts) else f"node{node}"
