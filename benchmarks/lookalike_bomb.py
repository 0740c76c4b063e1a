"""The look-alike finder on a repetition bomb: two notebooks whose markdown repeats one word.

    python benchmarks/lookalike_bomb.py [--words 8000] [--root PATH]

Issue 23: two such look-alike submissions took the finder 74 s at 8,000 words (quadratic:
every place of the one fingerprint in one notebook against every place in the other). Times
``find_lookalikes`` on the pair, cold, with the grader found at ``--root`` (default: this
checkout; give another checkout, e.g. the main branch's, for the figure before). Prints the
load average before and after, since this machine is shared.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--words", type=int, default=8000)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    sys.path.insert(0, str(args.root.resolve()))
    from grader.lookalikes.finder import find_lookalikes
    from grader.lookalikes.fingerprints import Cell

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    # A shared answer makes them a pair; the finder then shows the matching parts, where the
    # bomb's one fingerprint sits at every word.
    words = random.Random(0).sample(sorted(set(__doc__.split()) | set(dir(os))), 120)
    bomb = [Cell(0, "text", " ".join(words)), Cell(1, "text", "lorem " * args.words)]
    started = time.perf_counter()
    found = find_lookalikes({"a": bomb, "b": bomb})
    seconds = time.perf_counter() - started
    print(
        f"{args.words} words x 2 submissions: {seconds:.2f} s, {len(found.pairs)} pair(s) "
        f"(grader at {args.root})"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
