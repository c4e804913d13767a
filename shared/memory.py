"""This process's resident memory and the memory it may use (its cgroup limit, or the machine's).

Read from /proc and /sys on each call: cheap (a few small files), and current after a pool
child has grown or the container's limit changed.
"""

from __future__ import annotations

import os
from pathlib import Path

# cgroup v2, then v1; "max" (v2) or a huge number (v1) means no limit.
CGROUP_LIMIT_FILES = (Path("/sys/fs/cgroup/memory.max"),
                      Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


def rss_bytes() -> int:
    """Resident set size of this process (0 where /proc is not available)."""
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def machine_bytes() -> int:
    """Physical memory of the machine."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def limit_bytes() -> int:
    """The container's memory limit when one is set, else the machine's memory."""
    total = machine_bytes()
    for path in CGROUP_LIMIT_FILES:
        try:
            raw = path.read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and 0 < int(raw) < total:
            return int(raw)
    return total
