"""What this machine, or the container the grader runs in, lets the grader use.

Containers (Gradescope's, a CI runner's, a Kubernetes pod) limit CPU and memory with a cgroup
while ``os.cpu_count()`` and ``sched_getaffinity`` still report the host's cores: sizing thread
pools or ``-j`` from those over-subscribes a half-CPU container many times over.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024
UNLIMITED = 1 << 60
"""cgroup v1 writes "no limit" as a huge number (a page-rounded 2**63 - 1)."""


@dataclass(frozen=True)
class ContainerLimits:
    """What the container's cgroup allows; None where it sets no limit."""

    memory_mb: int | None
    cpus: float | None


def read_cgroup_limits(root: Path = Path("/sys/fs/cgroup")) -> ContainerLimits:
    """The memory and CPU limits of this process's cgroup (v2, else v1).

    Args:
        root: where the cgroup file system is mounted.
    """
    memory = _first_int(root / "memory.max", root / "memory" / "memory.limit_in_bytes")
    cpus: float | None = None
    cpu_max = _read(root / "cpu.max")
    if cpu_max:
        quota, _, period = cpu_max.partition(" ")
        if quota.isdigit() and period.strip().isdigit() and int(period) > 0:
            cpus = int(quota) / int(period)
    else:
        quota_v1 = _first_int(root / "cpu" / "cpu.cfs_quota_us")
        period_v1 = _first_int(root / "cpu" / "cpu.cfs_period_us")
        if quota_v1 and period_v1:
            cpus = quota_v1 / period_v1
    return ContainerLimits(memory // MB if memory else None, cpus)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _first_int(*paths: Path) -> int | None:
    for path in paths:
        text = _read(path)
        if text.lstrip("-").isdigit():
            value = int(text)
            # v1 says "no limit" with a huge number, v2 with "max"; -1 is v1's "no quota".
            return value if 0 < value < UNLIMITED else None
    return None


def cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """CPU cores this process may use: its affinity, capped by its cgroup's CPU quota.

    Args:
        cgroup: where the cgroup file system is mounted.
    """
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    quota = read_cgroup_limits(cgroup).cpus
    return max(1, min(available, math.ceil(quota))) if quota else available
