"""A program for a fork-server that reports, from inside, what confines it.

Served by :mod:`grader.sandbox.zygote` (``--program tests.sandbox.forked_probe``) or run fresh
(``python -I -m tests.sandbox.forked_probe``), it prints the same JSON either way, so that a
test can compare a forked process's confinement with a fresh one's field by field.
``forked_threaded`` is the same program from a server that has a second thread.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import typing as t

WAIT = "--wait-for-interrupt"
"""Its argument to print ``waiting``, then ``interrupted`` once SIGINT comes (or ``timeout``)."""


def preload() -> None:
    """Nothing to import: the probe is about confinement, not speed."""


def _status() -> dict[str, str]:
    with open("/proc/self/status", encoding="utf-8") as fh:
        return dict(line.rstrip("\n").split(":\t", 1) for line in fh if ":\t" in line)


def report(argv: list[str]) -> dict[str, t.Any]:
    """What confines this process, as seen from inside it."""
    status = _status()
    try:  # its argument: a file of the grader's, outside the sandbox
        with open(argv[0] if argv else "/nonexistent", encoding="utf-8") as fh:
            secret: str = fh.read()
    except OSError as exc:
        secret = type(exc).__name__
    with open("/proc/self/cmdline", "rb") as fh:
        cmdline = [part.decode() for part in fh.read().split(b"\0") if part]
    with open("/proc/self/environ", "rb") as fh:
        started_with = sorted(e.split(b"=", 1)[0].decode() for e in fh.read().split(b"\0") if e)
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        mounts = sorted(line.split()[4] for line in fh)
    with open("/proc/net/dev", encoding="utf-8") as fh:
        interfaces = sorted(line.split(":")[0].strip() for line in fh.readlines()[2:])
    limits = {
        name: resource.getrlimit(getattr(resource, name))
        for name in dir(resource)
        if name.startswith("RLIMIT_")
    }
    return {
        "argv": argv,
        "program": cmdline[2:4],  # after the interpreter and -I
        "uid": os.getuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "pid": os.getpid(),
        "seccomp": status["Seccomp"],
        "no_new_privs": status["NoNewPrivs"],
        "capabilities": [status["CapEff"], status["CapPrm"], status["CapBnd"]],
        "limits": limits,
        "cwd": os.getcwd(),
        "environ": dict(sorted(os.environ.items())),
        "environ_at_start": started_with,
        "fds": _descriptors(),
        "mounts": mounts,
        "interfaces": interfaces,
        "secret": secret,
        "tmp": os.environ.get("TMPDIR"),
    }


def _descriptors() -> dict[str, str]:
    """Each open descriptor, and what it is (its target's kind: a pipe, a socket, a path)."""
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the listing's own, closed by now
        found[fd] = target.split(":")[0] if target.endswith("]") else target
    return dict(sorted(found.items(), key=lambda item: int(item[0])))


def run(argv: list[str]) -> int:
    """Print the report (or wait for an interrupt, with :data:`WAIT`)."""
    if argv == [WAIT]:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        print("waiting", flush=True)
        got = signal.sigtimedwait({signal.SIGINT}, 60)
        print("interrupted" if got else "timeout", flush=True)
        return 0
    print(json.dumps(report(argv)), flush=True)
    return 0


def command(argv: list[str]) -> list[str]:
    """The probe as a fresh process."""
    return [sys.executable, "-I", "-m", "tests.sandbox.forked_probe", *argv]


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
