"""The grader's secret: what a notebook can never recompute.

The assignment's seed reaches the kernel (it seeds Keras there), and the grader's source is
readable there too. So the held-back test images are chosen, and the synthetic data sets are
drawn, from the seed *and* this secret, which no kernel receives: a notebook can neither
regenerate the synthetic test images nor tell which test images were held back.

The secret is ``$GRADER_SECRET`` when set (give every machine of a cluster, or a Gradescope
image, the same value to grade identically everywhere), else a random value created once in
the grader's cache folder, which kernels cannot see.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import typing as t

from grader.exceptions import KitError

ENV = "GRADER_SECRET"
FILENAME = "secret"


def grader_secret() -> str:
    """This installation's secret: ``$GRADER_SECRET``, else the cache folder's, created once."""
    from grader.data.cache import cache_dir

    given = os.environ.get(ENV)
    if given:
        return given
    path = cache_dir() / FILENAME
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{FILENAME}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    try:
        # A hard link appears whole or not at all: two graders starting at once agree on
        # whichever secret was linked first, and no reader ever sees an empty file.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text(encoding="ascii").strip()


def secret_number(secret: str) -> int:
    """The secret as a 64-bit integer, to seed NumPy's generators with."""
    return int.from_bytes(hashlib.sha256(secret.encode()).digest()[:8], "big")


def fingerprint(secret: str) -> str:
    """A short public name for the secret (cache file names), from which it cannot be found."""
    return hashlib.sha256(b"fingerprint:" + secret.encode()).hexdigest()[:12]


def data_secret(table: dict[str, t.Any]) -> str:
    """The public secret a student kit's data is drawn with, from its ``[kit]`` table (the
    kit has no grader secret: its data is drawn in the student's own environment).

    Raises:
        KitError: the kit has none.
    """
    secret = table.get("data_secret")
    if not isinstance(secret, str) or not secret:
        raise KitError("the kit's [kit] data_secret is missing; rebuild the kit")
    return secret
