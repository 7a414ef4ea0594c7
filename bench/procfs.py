"""Peak resident memory and CPU time of a process, read from Linux's /proc.

Writing 5 to /proc/<pid>/clear_refs resets the process's high-water mark
(VmHWM) to its current resident size, so the growth during a block of work is
VmHWM after it minus VmRSS before it.
"""
import os

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM of the process, in KiB."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(value.split()[0])
    return values


def reset_peak(pid: int | str = "self") -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


class PeakGrowth:
    """`with PeakGrowth(pid) as peak: ...`, then peak.bytes is how far its resident memory rose.

    peak.before is the resident size it rose from, in bytes.
    """

    def __init__(self, pid: int | str = "self"):
        self.pid = pid
        self.before = self.bytes = 0

    def __enter__(self) -> "PeakGrowth":
        reset_peak(self.pid)
        self.before = memory_kib(self.pid)["VmRSS"] * 1024
        return self

    def __exit__(self, *exc_info) -> None:
        self.bytes = memory_kib(self.pid)["VmHWM"] * 1024 - self.before


def children(pid: int) -> list[int]:
    """The child processes of pid (of its main thread, which is where gunicorn's master forks)."""
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return [int(child) for child in listing.read().split()]


def cpu_seconds(pid: int | str = "self") -> float:
    """The CPU time (user and system) the process has used so far; 0 if it has ended."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The fields after the command's name, which is in parentheses and may hold spaces.
            fields = stat.read().rpartition(")")[2].split()
    except FileNotFoundError:
        return 0.0
    # utime and stime, the 14th and 15th fields of proc(5).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
