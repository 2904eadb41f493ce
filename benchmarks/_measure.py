"""What every benchmark measures the same way (imported by the scripts beside it)."""
from __future__ import annotations

import resource


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM) in MB. Unlike ru_maxrss it starts afresh at exec, so
    a measuring subprocess does not inherit the high-water mark of the parent that spawned it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: best effort
