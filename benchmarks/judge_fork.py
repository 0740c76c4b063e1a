"""What a judge fork-server would save: a fresh judge's Keras import against a fork (issue 27).

Measured before the fork-servers were built (grader/sandbox/zygote.py); what they save in a
batch is measured by ``cpu_per_notebook.py`` with and without them.

Every notebook gets a fresh judge process (the trust boundary: no judge ever holds another
student's model), and each fresh judge imports Keras and TensorFlow again, about 5 of its
7-9 CPU-seconds. A fork-server (a zygote that imported Keras once, never touched a student's
file, and forks each judge) would skip that import. This measures, on a small saved CNN
standing in for a student's model (load it, ``predict`` 256 images):

* **fresh**: a new ``python -I`` that imports Keras as the judge does
  (:func:`grader.keras_env.keras`), loads the model and predicts, its CPU from ``rusage``;
* **fork (import only)**: a zygote that only imported Keras forks a child that does the same;
* **fork (runtime started)**: the same from a zygote whose TensorFlow runtime was started
  (``keras_env.keras()`` seeds and sets determinism: TensorFlow's thread pools exist when it
  forks, which TensorFlow does not support).

It prints each child's CPU-seconds, wall seconds and whether its predictions equal the fresh
process's bit for bit, or that it hung (killed after ``--timeout`` seconds) or failed.

    python benchmarks/judge_fork.py [--runs 3] [--timeout 120]

Measured 2026-12-07 with ``--runs 3`` (load 9.8 to 9.2): fresh 7.10 CPU-s (18.8 s), forked
after the import only 0.49 (1.39 s), forked after the runtime started 0.43 (1.33 s), every
forked child's predictions identical to the fresh process's. See docs/benchmarks.md, "CPU per
graded notebook".
"""

from __future__ import annotations

import argparse
import os
import resource
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import sys, numpy as np
keras = sys.modules.get("keras")
if keras is None:
    from grader import keras_env
    keras = keras_env.keras()
model = keras.models.load_model(sys.argv[1])
x = np.random.default_rng(0).random((256, 32, 32, 3), dtype=np.float32)
np.save(sys.argv[2], model.predict(x, batch_size=256, verbose=0))
"""


def make_model(path: Path) -> None:
    code = (
        "import sys\nfrom grader import keras_env\nkeras = keras_env.keras()\n"
        "m = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(32, 3, "
        "activation='relu'), keras.layers.MaxPooling2D(), keras.layers.Conv2D(64, 3, "
        "activation='relu'), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)])\n"
        "m.save(sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fresh(model: Path, out: Path) -> tuple[float, float]:
    before, started = cpu_of_children(), time.monotonic()
    subprocess.run([sys.executable, "-c", CHILD, str(model), str(out)], check=True)
    return cpu_of_children() - before, time.monotonic() - started


ZYGOTE = """
import os, sys, time, resource
from grader import keras_env
if sys.argv[1] == "runtime":
    keras_env.keras()
else:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from grader.sandbox.limits import thread_env
    os.environ.update(thread_env())
    import keras
child_code = sys.argv[2]
sys.stdout.write("ready\\n"); sys.stdout.flush()
for line in sys.stdin:
    model, out = line.split()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        sys.argv = ["judge", model, out]
        try:
            exec(child_code, {"__name__": "__main__"})
        except BaseException as exc:
            sys.stderr.write(f"child failed: {exc!r}\\n")
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    sys.stdout.write(f"{status} {cpu} {time.monotonic() - started}\\n"); sys.stdout.flush()
"""


def forked(mode: str, jobs: list[tuple[Path, Path]], timeout: float) -> list[str | tuple]:
    """Each job's (status, CPU s, wall s) from one zygote, or why it could not say."""
    zygote = subprocess.Popen(
        [sys.executable, "-c", ZYGOTE, mode, CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert zygote.stdin is not None and zygote.stdout is not None
    out: list[str | tuple] = []
    try:
        if zygote.stdout.readline().strip() != "ready":
            return ["zygote failed to start"]
        for model, result in jobs:
            zygote.stdin.write(f"{model} {result}\n")
            zygote.stdin.flush()
            ready, _, _ = select.select([zygote.stdout], [], [], timeout)
            if not ready:
                out.append(f"hung (killed after {timeout:.0f} s)")
                break
            status, cpu, wall = zygote.stdout.readline().split()
            out.append((int(status), float(cpu), float(wall)))
    finally:
        zygote.kill()
        zygote.wait()
    return out


def main() -> None:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    print(f"load average (1 min) before: {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-fork-") as tmp:
        folder = Path(tmp)
        model = folder / "model.keras"
        make_model(model)
        rows: dict[str, list[tuple[float, float]]] = {}
        reference = folder / "fresh-0.npy"
        for n in range(args.runs):
            rows.setdefault("fresh", []).append(fresh(model, folder / f"fresh-{n}.npy"))
        expected = np.load(reference)
        for mode in ("import", "runtime"):
            jobs = [(model, folder / f"{mode}-{n}.npy") for n in range(args.runs)]
            for (_, result), got in zip(jobs, forked(mode, jobs, args.timeout), strict=False):
                name = f"fork ({'import only' if mode == 'import' else 'runtime started'})"
                if isinstance(got, str):
                    print(f"{name}: {got}")
                    continue
                status, cpu, wall = got
                same = status == 0 and np.array_equal(np.load(result), expected)
                print(f"{name}: exit {status}, {cpu:.2f} CPU-s, {wall:.2f} s, same: {same}")
                if status == 0:
                    rows.setdefault(name, []).append((cpu, wall))
        for name, values in rows.items():
            print(
                f"{name:<26} median {statistics.median(c for c, _ in values):.2f} CPU-s, "
                f"{statistics.median(w for _, w in values):.2f} s wall over {len(values)}"
            )
    print(f"load average (1 min) after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
