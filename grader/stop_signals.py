"""Stop signals turned into an unwinding exit.

SIGTERM's and SIGHUP's default action ends a process on the spot: a grader ended so (a
scheduler's time limit, `kill`, a closed terminal) left its kernels' and judges' temporary
folders behind, hundreds of megabytes each time. Raised as ``SystemExit`` instead, they
unwind the command as Ctrl-C does: every ``with`` block and ``finally`` clause runs, so
kernels and judges are stopped and their folders removed, and the exit code is still
``128 + signal``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import typing as t
from collections.abc import Iterator

STOPS = (signal.SIGTERM, signal.SIGHUP)


def unwind(signum: int, *, last_words: str = "") -> t.NoReturn:
    """Exit by raising ``SystemExit(128 + signum)``, quietly; a second stop signal is ignored.

    What the unwinding prints (asyncio's abandoned tasks, a kernel that died mid-cell) is not
    news to whoever stopped the process, and would land in their terminal or log after its
    last line: standard output and error go to ``/dev/null`` first.

    Args:
        signum: the signal received.
        last_words: a line for standard error before it goes quiet ("" for none).
    """
    for name in STOPS:
        signal.signal(name, signal.SIG_IGN)
    if last_words:
        with contextlib.suppress(OSError):
            os.write(2, last_words.encode() + b"\n")
    nowhere = os.open(os.devnull, os.O_WRONLY)
    for stream in (1, 2):
        os.dup2(nowhere, stream)
    raise SystemExit(128 + signum)


def _stop_the_command(signum: int, _frame: object) -> None:
    name = signal.Signals(signum).name
    unwind(signum, last_words=f"stopped by {name}: stopping its kernels, removing their files")


@contextlib.contextmanager
def unwinding_on_stop() -> Iterator[None]:
    """While entered, SIGTERM and SIGHUP end the process through :func:`unwind`.

    Only in the main thread (where Python runs signal handlers), and only for a signal left to
    its default action: one ignored by whoever started the process (``nohup``'s SIGHUP) stays
    ignored. The handlers before are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {name: signal.getsignal(name) for name in STOPS}
    for name, handler in before.items():
        if handler is signal.SIG_DFL:
            signal.signal(name, _stop_the_command)
    try:
        yield
    finally:
        for name, handler in before.items():
            signal.signal(name, handler)
