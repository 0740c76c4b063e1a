"""The grader's peak memory while a kernel floods IOPub with pre-packed large messages.

    python benchmarks/iopub_flood.py [--messages 4] [--mib 256] [--part-mib 4] [--root PATH]
    python benchmarks/iopub_flood.py --relay-starts 20

Issue 23: a cell pushing four pre-packed 256 MiB messages through the kernel's own IOPub
session took the grader from 0.30 to 1.85 GB, because jupyter_client received and decoded each
whole message before the output limit counted it. Runs that cell and one after it with the
grader's :func:`~grader.execute.run.run_notebook` (an unconfined kernel: the sockets are the
same), sampling this process's resident memory every 10 ms (the kernel's relay is a child
process: not counted). ``--part-mib`` sends each message in parts of that size (libzmq bounds
each part, not their number). ``--root`` picks the grader's checkout (default: this one; give
the main branch's for the figure before). ``--relay-starts N`` times instead how long a relay
takes from its start until its sockets are bound (it starts alongside every kernel). Prints the
load average before and after, since this machine is shared.

Figures, 2026-12-06, 2 cores shared with other sessions (grader RSS before -> peak; load
average before / after):

- one part per message, 4 x 256 MiB (the defaults): before the frame bound 0.30 -> 1.85 GB;
  frame bound without relay 51 -> 51 MiB; with the relay 50 -> 52 MiB, 6.1 s, cut as before
  (2 connection resets), the next cell ran (load 3.4 / 3.4; 50 -> 52 MiB, 13.9 s at load 20).
- 4 MiB parts, 4 x 256 MiB (``--part-mib 4``): frame bound without relay (main at 7fc858f,
  ``--root``) 50 -> 895 MiB, and the kernel stopped on a message nbclient could not read (load
  3.4 / 3.4; 50 -> 548 MiB at load 21); with the relay 50 -> 52 MiB, 2.0 s, the kernel stopped
  in the flood's cell, ``message_too_large`` (load 3.3 / 3.3; 52 MiB at load 20 too).
- ``--relay-starts 20``: median 0.133 s, slowest 0.193 s from ``Popen`` to every socket bound
  (load 3.3 / 3.3; 0.81 s and 1.25 s at load 15-22). It overlaps the kernel's own start (2 s
  and more), which the grader waits for anyway.
"""

from __future__ import annotations

import argparse
import os
import select
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from nbformat.v4 import new_code_cell, new_notebook

FLOOD = """\
k = get_ipython().kernel
packed = k.session.pack({{'name': 'stdout', 'text': 'x' * ({mib} << 20)}})
for _ in range({messages}):
    msg = k.session.msg('stream', packed, parent=k.get_parent())
    k.iopub_socket.send_multipart(k.session.serialize(msg))
print('sent')
"""
PARTS_FLOOD = """\
k = get_ipython().kernel
part = b'x' * ({part_mib} << 20)
msg = k.session.msg('stream', {{'name': 'stdout', 'text': 'x'}}, parent=k.get_parent())
for _ in range({messages}):
    k.iopub_socket.send_multipart(k.session.serialize(msg) + [part] * {parts}, copy=False)
print('sent')
"""


def relay_starts(count: int) -> None:
    """Print how long relays take to bind their sockets (median and slowest of ``count``)."""
    from grader.execute.channels import CHANNELS, Relay

    seconds = []
    with tempfile.TemporaryDirectory(prefix="relay-start-") as folder:
        for _ in range(count):
            began = time.monotonic()
            relay = Relay({channel: f"ipc://{folder}/{channel}" for channel in CHANNELS})
            assert relay.process.stdout is not None
            said = b""
            while b"ready" not in said:  # its first line, once every socket is bound
                select.select([relay.process.stdout], [], [], 10)
                said += os.read(relay.process.stdout.fileno(), 64)
            seconds.append(time.monotonic() - began)
            relay.close()
    print(
        f"relay start until bound, {count} starts: median {statistics.median(seconds):.3f} s, "
        f"slowest {max(seconds):.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=4)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--part-mib", type=int, default=0, help="0: one part per message")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--relay-starts", type=int, default=0)
    args = parser.parse_args()
    sys.path.insert(0, str(args.root.resolve()))
    from grader.execute.run import run_notebook

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.relay_starts:
        relay_starts(args.relay_starts)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return
    me = psutil.Process()
    peak = [me.memory_info().rss]
    running = threading.Event()
    running.set()

    def sample() -> None:
        while running.is_set():
            peak[0] = max(peak[0], me.memory_info().rss)
            time.sleep(0.01)

    if args.part_mib:
        parts = args.mib // args.part_mib
        flood = PARTS_FLOOD.format(part_mib=args.part_mib, parts=parts, messages=args.messages)
    else:
        flood = FLOOD.format(mib=args.mib, messages=args.messages)
    cells = [flood, "print('after')"]
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    sampler = threading.Thread(target=sample, daemon=True)
    before = me.memory_info().rss
    sampler.start()
    with tempfile.TemporaryDirectory(prefix="iopub-flood-") as work:
        ran = run_notebook(
            nb, workdir=Path(work), setup="", finish="", cell_timeout=300,
            total_timeout=600, env=dict(os.environ),
        )  # fmt: skip
    running.clear()
    sampler.join()
    print(
        f"{args.messages} x {args.mib} MiB in parts of {args.part_mib or args.mib} MiB: grader "
        f"RSS {before / 2**20:.0f} MiB before, peak {peak[0] / 2**20:.0f} MiB, "
        f"{ran.duration_s:.1f} s; cells {[c.status for c in ran.cells]}; incidents "
        f"{[i.detail for i in ran.incidents]} (grader at {args.root})"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
