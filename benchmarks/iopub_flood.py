"""The grader's peak memory while a kernel floods IOPub with pre-packed large messages.

    python benchmarks/iopub_flood.py [--messages 4] [--mib 256] [--root PATH]

Issue 23: a cell pushing four pre-packed 256 MiB messages through the kernel's own IOPub
session took the grader from 0.30 to 1.85 GB, because jupyter_client received and decoded each
whole message before the output limit counted it. Runs that cell and one after it with the
grader's :func:`~grader.execute.run.run_notebook` (an unconfined kernel: the sockets are the
same), sampling this process's resident memory every 10 ms. ``--root`` picks the grader's
checkout (default: this one; give the main branch's for the figure before). Prints the load
average before and after, since this machine is shared.
"""

from __future__ import annotations

import argparse
import os
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=4)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    sys.path.insert(0, str(args.root.resolve()))
    from grader.execute.run import run_notebook

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    me = psutil.Process()
    peak = [me.memory_info().rss]
    running = threading.Event()
    running.set()

    def sample() -> None:
        while running.is_set():
            peak[0] = max(peak[0], me.memory_info().rss)
            time.sleep(0.01)

    cells = [FLOOD.format(mib=args.mib, messages=args.messages), "print('after')"]
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
        f"{args.messages} x {args.mib} MiB: grader RSS {before / 2**20:.0f} MiB before, peak "
        f"{peak[0] / 2**20:.0f} MiB, {ran.duration_s:.1f} s; cells "
        f"{[c.status for c in ran.cells]}; incidents {[i.detail for i in ran.incidents]} "
        f"(grader at {args.root})"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
