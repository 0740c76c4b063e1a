"""A fresh kernel prepared in the background for a student's next ``grader check`` (opt-in).

``grader check --keep-warm MINUTES`` starts, once its own check is done, a small holder process
(:mod:`grader.check_holder`) that prepares the next check the way a batch worker prepares its
next notebook (:class:`grader.execute.warm.WarmPool`, through
:func:`grader.check_start.start_check`): a new sandbox with the assignment's data and files, a
kernel in it whose only code so far is the grader's preload, and a judge likewise, with the
grader's own modules and the data already loaded. It waits MINUTES minutes for the next check,
then stops them. It costs the memory of a kernel and a judge with Keras loaded while it waits.

The next check (with the flag or without) that finds one hands it the notebook: the holder
runs the check with that kernel and judge, tells the check each phase as it goes and sends the
result back, then stops everything and exits. A prepared kernel is used once, for one check:
the holder serves a single check and never holds a kernel a notebook ran in.

It is taken only for a check it was prepared for: the same :class:`Ticket` (the grader's code
and version, the course, the assignment, the options, the environment and the folder the
command runs in), and by the user who started it: its socket lies in a folder only that user
can open (:func:`runtime_dir`), and each side checks the other's uid on the socket. The holder
still compares the whole sandbox key when it hands the kernel to the check
(:meth:`~grader.execute.warm.WarmPool.take`). Anything else (no holder, another ticket, a
holder that does not answer or stops mid-way) and the check starts its own kernel, as without
the flag, saying so in a progress line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import json
import os
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import typing as t
from dataclasses import dataclass
from pathlib import Path

from grader.options import GradeOptions
from grader.progress import phase
from grader.sandbox.limits import Limits
from grader.socket_path import socket_address

if t.TYPE_CHECKING:
    from grader.results import GradeResult

FOLDER = "keras-notebook-grader"
SOCKET = "prepared-check.sock"
"""Where the holder listens, inside :func:`runtime_dir`."""
STATE = "prepared-check.json"
"""The holder's pid and state (``starting``, ``ready``), inside :func:`runtime_dir`."""
LOG = "prepared-check.log"
"""The holder's output, inside :func:`runtime_dir` (overwritten by the next holder)."""
ANSWER_S = 60.0
"""Seconds a check waits for the holder's answer: a holder still starting answers once its
kernel is started and its modules imported, which a check starting its own would wait for too."""
VOLATILE = frozenset({"_", "OLDPWD", "PWD", "SHLVL", "COLUMNS", "LINES"})
"""Variables a shell changes between two commands, which decide nothing in a check."""


@dataclass(frozen=True)
class Ticket:
    """What a prepared check was made for: a check that differs in any field does not take it."""

    grader: str
    """The grader's version, interpreter and source (see :func:`code_fingerprint`)."""
    course: str
    assignment: str
    options: dict[str, t.Any]
    """The check's :class:`~grader.options.GradeOptions` (see :func:`options_record`)."""
    env: dict[str, str]
    """The environment, less :data:`VOLATILE`."""
    cwd: str

    def mismatch(self, other: Ticket) -> str | None:
        """Why a check with ``other`` may not take what was prepared for this; None if it may."""
        reasons = {
            "grader": "another grader version",
            "course": "another course",
            "assignment": "another assignment",
            "options": "other options",
            "env": "another environment",
            "cwd": "another folder",
        }
        for name, reason in reasons.items():
            if getattr(self, name) != getattr(other, name):
                if name == "env":
                    changed = sorted(
                        k for k in {*self.env, *other.env} if self.env.get(k) != other.env.get(k)
                    )
                    return f"{reason}: ${', $'.join(changed)}"
                return reason
        return None

    def record(self) -> dict[str, t.Any]:
        """The ticket as JSON-ready data."""
        return dataclasses.asdict(self)


def ticket(assignment: str, options: GradeOptions) -> Ticket:
    """This process's ticket for a check of ``assignment`` with ``options``."""
    from grader.course import find_course

    return Ticket(
        grader=code_fingerprint(),
        course=str(find_course() or ""),
        assignment=assignment,
        options=options_record(options),
        env={k: v for k, v in os.environ.items() if k not in VOLATILE},
        cwd=os.getcwd(),
    )


PACKAGE = Path(__file__).resolve().parent


def code_fingerprint(package: Path = PACKAGE) -> str:
    """The installed version, the interpreter, and every module's size and time of change.

    A source checkout changes without a new version number: an edited module is another grader.
    """
    from grader.versions import versions

    digest = hashlib.sha256(f"{versions()['grader']}\0{sys.executable}\0{package}".encode())
    for path in sorted(package.rglob("*.py")):
        info = path.stat()
        digest.update(f"{path.relative_to(package)}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def options_record(options: GradeOptions) -> dict[str, t.Any]:
    """``options`` as JSON-ready data (:func:`options_from_record` reads it back)."""
    record: dict[str, t.Any] = json.loads(json.dumps(dataclasses.asdict(options), default=str))
    return record


def options_from_record(record: dict[str, t.Any]) -> GradeOptions:
    """The options :func:`options_record` wrote."""
    paths = {
        k: Path(record[k]) if record[k] is not None else None for k in ("data_dir", "weights_dir")
    }
    limits = Limits(**record["limits"]) if record["limits"] is not None else None
    return GradeOptions(**{**record, **paths, "limits": limits})


def runtime_path() -> Path:
    """Where this user's private folder for the holder's socket and state lies.

    ``$XDG_RUNTIME_DIR/keras-notebook-grader`` where the session has one, else
    ``<tmp>/keras-notebook-grader-<uid>``.
    """
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and Path(base).is_dir():
        return Path(base) / FOLDER
    return Path(tempfile.gettempdir()) / f"{FOLDER}-{os.geteuid()}"


def runtime_dir(*, create: bool = True) -> Path:
    """This user's private folder (:func:`runtime_path`), created if need be and ``create``.

    Raises:
        PermissionError: the folder is not this user's own, or others may open it (someone
            else made it first: nothing is prepared or taken through it).
        FileNotFoundError: there is none and ``create`` is False.
    """
    uid = os.geteuid()
    folder = runtime_path()
    if create:
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o077:
        raise PermissionError(
            f"{folder} is not a folder of this user's that only this user can open"
        )
    return folder


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def send(sock: socket.socket, message: dict[str, t.Any]) -> None:
    """Send one message: a line of JSON."""
    sock.sendall(json.dumps(message).encode() + b"\n")


class Lines:
    """The messages arriving on a socket, one line of JSON each."""

    def __init__(self, sock: socket.socket) -> None:
        self._file = sock.makefile("rb")

    def next(self) -> dict[str, t.Any] | None:
        """The next message; None when the other side closed the socket."""
        line = self._file.readline()
        if not line:
            return None
        message: dict[str, t.Any] = json.loads(line)
        return message


@dataclass
class Served:
    """A check the holder ran with what it had prepared."""

    result: GradeResult
    report: Path
    kernel: bool
    """Whether the notebook ran in the prepared kernel (not one started when it came)."""
    judge: bool
    """Whether the prepared judge judged it."""


def take_prepared(notebook: Path, assignment: str | None, options: GradeOptions) -> Served | None:
    """Run the check in the kernel prepared for it, if one is; None: check from the start.

    A holder prepared for another check is told to stop: the student has moved on.
    """
    if not (runtime_path() / SOCKET).exists():
        return None  # the common case, silently: nothing was prepared
    try:
        address = runtime_dir(create=False) / SOCKET
    except OSError as exc:
        phase(f"no prepared kernel ({exc})")
        return None
    chosen = assignment or _assignment_of(notebook)
    if chosen is None:
        return None  # the check says what is wrong in its own words
    wanted = ticket(chosen, options)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(ANSWER_S)
        try:
            with socket_address(address) as reachable:
                sock.connect(reachable)
            if peer_uid(sock) != os.geteuid():
                phase("the prepared kernel is not this user's: starting a new one")
                return None
            send(sock, {"take": wanted.record(), "notebook": str(notebook)})
            return _served(Lines(sock), sock)
        except (OSError, ValueError) as exc:
            phase(f"the prepared kernel did not answer ({exc}): starting a new one")
            return None


def _served(lines: Lines, sock: socket.socket) -> Served | None:
    """Follow the holder's check to its result; None if it refused or stopped first."""
    answer = lines.next()
    if answer is None or "refused" in answer:
        reason = answer["refused"] if answer is not None else "it stopped"
        phase(f"the prepared kernel is not for this check ({reason}): starting a new one")
        return None
    phase("handing the notebook to the kernel prepared after the last check")
    sock.settimeout(None)  # the check's own timeouts bound it, in the holder
    # What prints the report is imported while the notebook runs, not after.
    threading.Thread(target=_import_report_printer, daemon=True).start()
    from grader.results import GradeResult

    while (message := lines.next()) is not None:
        if "phase" in message:
            phase(message["phase"])
        elif "done" in message:
            done = message["done"]
            if not done["kernel"]:
                phase("the prepared kernel had stopped: the check started a new one")
            return Served(
                GradeResult.from_dict(done["result"]),
                Path(done["report"]),
                kernel=done["kernel"],
                judge=done["judge"],
            )
        elif "failed" in message:
            phase(f"the prepared check failed ({message['failed']}): checking from the start")
            return None
    phase("the prepared kernel stopped mid-check: checking from the start")
    return None


def _import_report_printer() -> None:
    importlib.import_module("grader.report.terminal")


def prepare_next(
    notebook: Path,
    assignment: str | None,
    options: GradeOptions,
    minutes: float,
    env: dict[str, str],
) -> None:
    """Start a holder preparing the next check of ``notebook``'s assignment, for ``minutes``.

    It runs on after this process exits, in a session of its own (a Ctrl-C meant for the next
    command does not reach it), and replaces one this user left waiting. It is given ``env``,
    the environment this check started with: the check may have added to its own (Keras'
    variables, once Keras is imported), which the next command starts without.
    """
    chosen = assignment or _assignment_of(notebook)
    if chosen is None or minutes <= 0:
        return
    try:
        folder = runtime_dir()
    except OSError as exc:
        phase(f"not keeping a kernel warm ({exc})")
        return
    request = {
        "notebook": str(notebook),
        "assignment": chosen,
        "options": options_record(options),
        "idle_s": minutes * 60,
    }
    with open(folder / LOG, "wb") as log:
        holder = subprocess.Popen(
            [sys.executable, "-m", "grader.check_holder"],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    # On its stdin, not its command line, which every user of the machine can read.
    assert holder.stdin is not None
    with holder.stdin:
        holder.stdin.write(json.dumps(request).encode())
    phase(f"preparing a kernel for the next check (kept {minutes:g} min)")


def _assignment_of(notebook: Path) -> str | None:
    from grader.exceptions import GraderError
    from grader.notebook import assignment_of, read_notebook

    try:
        return assignment_of(read_notebook(notebook))
    except (GraderError, OSError):
        return None
