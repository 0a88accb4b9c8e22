"""CPU time and peak memory of a process and its descendants, from /proc.

Why the whole tree: a Node gateway is one process with several threads (counted by
/proc/<pid>/stat already), but a CLI may fork workers; counting descendants makes sure
nothing a gateway uses escapes the figures.
"""
import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    # fields after the name: state(0) ppid(1) … utime(11) stime(12)
    return int(rest[1]), int(rest[11]) + int(rest[12])


def tree(pid):
    """pid and every descendant alive now."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat(int(d))
            if st is not None:
                children.setdefault(st[0], []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pid):
    """CPU seconds (user + system) used so far by pid and its descendants."""
    total = 0
    for p in tree(pid):
        st = _stat(p)
        if st is not None:
            total += st[1]
    return total / CLK_TCK


def _status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_peak(pid):
    """Resets the peak resident size (VmHWM) of the tree to its current size (Linux:
    writing 5 to clear_refs), so that a measurement's peak is its own."""
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


def peak_rss_kib(pid):
    """Peak resident memory (VmHWM, KiB) of the tree since the last reset_peak."""
    return sum(_status_kib(p, "VmHWM") for p in tree(pid))


def rss_kib(pid):
    return sum(_status_kib(p, "VmRSS") for p in tree(pid))
