"""Peak resident memory of a process, read from Linux's /proc.

Writing 5 to /proc/<pid>/clear_refs resets the process's high-water mark
(VmHWM) to its current resident size, so the growth during a block of work is
VmHWM after it minus VmRSS before it.
"""


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
