"""Work done in a forked process while this one goes on.

`render` compiles a policy once and then has two independent jobs: the
checks, and rendering the documents and their YAML. With two or more CPUs
it forks after lowering: the child renders (sharing the lowered policy
copy-on-write, so nothing is copied to start it) while the parent checks,
and the child's result comes back pickled through a pipe. Writing the
output directory stays in the parent (output/writer.py), so its guarantees
(lock, staging directory, one swap) are those of a serial run.

The child is speculative: it may work on a policy the checks will reject.
If so the parent kills it. If the child fails in any way (an exception,
a signal), the parent runs the same function itself, so an error surfaces
in the parent exactly as in a serial run, and is reported once.

A second process only pays when a CPU is idle: on a machine busy with
other work it adds copy-on-write faults and pickling and takes nothing off
the wall time. So, like `make -l`, meshc forks only when, at that moment,
fewer processes are runnable than it may use CPUs (Linux's /proc/loadavg;
elsewhere the CPUs are taken as idle). MESHC_JOBS sets the number of
processes outright (1: never fork).

Without fork (Windows), with one usable or idle CPU, with MESHC_JOBS=1, or
in a process running other threads (a fork copies their locks in whatever
state they are, so the child could deadlock), the function simply runs in
the parent when its result is asked for.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
from typing import Any, Callable, Optional

JOBS = "MESHC_JOBS"
"""Environment variable: how many processes a command may use (1: no forking)."""


def jobs() -> int:
    """How many processes to use: MESHC_JOBS if set to a positive number,
    else one, plus one per CPU this process may run on (its affinity,
    which `taskset` and container CPU sets restrict) that is idle now."""
    given = os.environ.get(JOBS, "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 1 + cpus - _runnable()))


def _runnable() -> int:
    """Processes runnable right now, this one included (the fourth field
    of /proc/loadavg, `running/total`); 1 where that is unknown."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return 1


class Forked:
    """`fn(*args)` computed in a forked child, or later in this process."""

    def __init__(self, fn: Callable[..., Any], *args: Any):
        self._call = (fn, args)
        self._pid: Optional[int] = None
        self._fd = -1
        if jobs() > 1 and hasattr(os, "fork") and threading.active_count() == 1:
            self._start()

    def _start(self) -> None:
        read, write = os.pipe()
        for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
            stream.flush()
        pid = os.fork()
        if pid == 0:  # the child: compute, send, and leave without unwinding the parent's stack
            os.close(read)
            code = 0
            try:
                fn, args = self._call
                data = pickle.dumps(fn(*args), protocol=pickle.HIGHEST_PROTOCOL)
                view = memoryview(data)
                while view:
                    view = view[os.write(write, view):]
            except BaseException:  # noqa: BLE001 - the parent computes it again and reports
                code = 1
            os._exit(code)
        os.close(write)
        self._pid, self._fd = pid, read

    def result(self) -> Any:
        """The function's value: the child's, or (no child, or the child
        failed) computed here, raising what it raises."""
        if self._pid is not None:
            chunks = []
            while True:
                chunk = os.read(self._fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
            ok = self._reap() == 0
            if ok and chunks:
                return pickle.loads(b"".join(chunks))
        fn, args = self._call
        return fn(*args)

    def cancel(self) -> None:
        """The result will not be asked for: stop the child."""
        if self._pid is not None:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except OSError:
                pass
            self._reap()

    def _reap(self) -> int:
        """Wait for the child; its exit status (0: it sent its result)."""
        pid, self._pid = self._pid, None
        os.close(self._fd)
        _, status = os.waitpid(pid, 0)
        return status
