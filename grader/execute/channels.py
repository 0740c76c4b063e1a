"""Sockets to a kernel that refuse an oversized message before the grader holds any of it.

jupyter_client receives a whole message, then decodes it, before the output limits of
:class:`~grader.execute.client.BoundedClient` can count it: a cell pushing pre-packed 256 MiB
messages through its own IOPub session grew the grader by 1.5 GB per GiB sent. Every socket the
grader connects to a kernel (the client's IOPub, shell, stdin, control and heartbeat channels,
and the kernel manager's own control socket) is therefore made with ZeroMQ's
``ZMQ_MAXMSGSIZE``: libzmq reads a frame's length first, and disconnects a peer announcing more
than :data:`MAX_FRAME_BYTES` without reading the frame. A small receive queue
(:data:`RECEIVE_QUEUE` messages) makes a kernel that sends faster than the grader decodes keep
the backlog in its own memory (its send queue), not in the grader's.

libzmq limits each part (frame) of a message, not how many parts one message has, and hands a
message over only once its last part has arrived: a kernel splitting 256 MiB into 64 parts of
4 MiB would make the grader hold those 256 MiB, and one of 10,000 parts 80 GB, in the process
that grades the whole batch. So these sockets never connect to the kernel itself: they go
through the kernel's :class:`Relay` (:mod:`grader.execute.relay`), a process of its own with its
own data limit (:data:`RELAY_MEMORY`), started with the kernel. It forwards only messages of
at most :data:`MAX_MESSAGE_BYTES`, all parts together; on a larger one, or one it cannot hold,
it ends, and the kernel manager kills the kernel and reports it dead: the submission's outcome
is ``message_too_large``, and the grader, which never held the message, grades the next
notebook as before.

A single frame over :data:`MAX_FRAME_BYTES` is lost and the kernel runs on. libzmq does not
reconnect after such a protocol error, so the relay re-makes its connection to the kernel and
reports it, and the client watches its own sockets too; after each cell it counts the
disconnects and reconnects (:meth:`BoundedKernelClient.take_resets`): the grader names them in
the cell's outcome, and the next cells talk to the kernel as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import typing as t
from dataclasses import asdict, dataclass

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.connect import ConnectionFileMixin
from zmq.utils.monitor import parse_monitor_message

from grader.execute import relay as relay_program
from grader.sandbox.limits import MB
from grader.scratch import scratch_folder

MAX_FRAME_BYTES = 8 * MB
"""The largest message frame the grader reads from a kernel: 8x the default per-cell output
limit (a larger output would be cut anyway), and far above any reply or status message."""
MAX_MESSAGE_BYTES = 2 * MAX_FRAME_BYTES
"""The largest message, all its frames together, the relay forwards: a Jupyter message's
content is one frame, its header, signature and metadata a few small ones. Only a message with
buffers (a widget's, dropped unread anyway) can be larger."""
RELAY_MEMORY = 256 * MB
"""What a relay may allocate once started. An honest kernel's messages, a few KiB to a few MiB,
stay far below it even with every queue full (:data:`RECEIVE_QUEUE` messages each way)."""
RECEIVE_QUEUE = 8
"""Messages ZeroMQ may queue per socket for the grader before it stops reading from the
kernel (libzmq's default is 1,000)."""
CHANNELS = tuple(relay_program.SOCKETS)
"""The five Jupyter channels; a kernel can send anything on each."""
RELAY_LINE_BYTES = 4096
"""The most the grader reads of the relay's report at a time (its lines are short)."""


def bound_sockets(context: zmq.Context[t.Any]) -> None:
    """Make every socket ``context`` creates from now on refuse oversized frames.

    pyzmq applies a context's socket options to each socket when it is created, so they hold
    before the socket connects, as ``ZMQ_MAXMSGSIZE`` must.
    """
    context.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
    context.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)


class Relay:
    """The relay process between one kernel and the grader (see :mod:`grader.execute.relay`).

    Started as soon as the kernel's addresses are known, before the kernel; the grader's
    sockets connect to :attr:`urls` (ZeroMQ retries until the relay has bound them), and its
    sockets to the kernel's addresses.

    Args:
        kernel: channel -> the kernel's address.
    """

    def __init__(self, kernel: t.Mapping[str, str]) -> None:
        # The grader's side: a private folder, never shown in a sandbox.
        self._scratch = contextlib.ExitStack()
        self.folder = self._scratch.enter_context(scratch_folder("relay"))
        self.urls = {channel: f"ipc://{self.folder / channel}" for channel in kernel}
        """Channel -> where the grader connects."""
        spec = relay_program.Spec(
            kernel=dict(kernel),
            grader=self.urls,
            max_frame=MAX_FRAME_BYTES,
            max_message=MAX_MESSAGE_BYTES,
            memory=RELAY_MEMORY,
            queue=RECEIVE_QUEUE,
        )
        # -I: no environment variable, user site or current folder changes what it imports.
        self.process = subprocess.Popen(
            [sys.executable, "-I", relay_program.__file__, json.dumps(asdict(spec))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)
        self._pending = b""
        self._resets = 0
        self._verdict = ""
        self._closed = False

    def _read(self) -> None:
        """Take what the relay has said since the last call."""
        out = self.process.stdout
        if out is None or out.closed:
            return
        while True:
            try:
                chunk = os.read(out.fileno(), RELAY_LINE_BYTES)
            except BlockingIOError:  # nothing more for now
                break
            if not chunk:
                break
            self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            word, _, rest = line.decode("ascii", "replace").partition(" ")
            if word == "reset":
                self._resets += 1
            elif word in ("refused", "overflow", "failed") and not self._verdict:
                self._verdict = _verdict(word, rest)

    def take_resets(self) -> int:
        """How many times the relay re-made a connection to the kernel since the last call
        (each after the kernel sent a frame over :data:`MAX_FRAME_BYTES`, dropped unread)."""
        self._read()
        resets, self._resets = self._resets, 0
        return resets

    def failure(self) -> str:
        """Why the relay ended, as a phrase; empty while it runs (or once closed by the
        grader). A relay that ended stopped carrying the kernel's messages: the kernel must
        be stopped."""
        if self._closed:
            return self._verdict
        self._read()
        if not self._verdict and self.process.poll() is not None:
            self._read()  # what it said before it ended
        if not self._verdict and self.process.returncode is not None:
            code = self.process.returncode
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            self._verdict = f"the grader's relay to the kernel ended ({how})"
        return self._verdict

    def close(self) -> None:
        """Stop the relay (if still running) and remove its folder."""
        if self._closed:
            return
        self.failure()  # what it said before it was stopped
        self._closed = True
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        self._scratch.close()


def _verdict(word: str, rest: str) -> str:
    """The phrase for a relay's last line: ``refused CHANNEL BYTES``, ``overflow CHANNEL`` or
    ``failed CHANNEL ERROR``."""
    channel, _, detail = rest.partition(" ")
    bound = f"the {MAX_MESSAGE_BYTES // MB} MiB the grader accepts, all its parts together"
    if word == "refused":
        size = f"a {int(detail) // MB} MiB message" if detail.isdigit() else "a message"
        return f"the kernel sent {size} on {channel}, over {bound}"
    if word == "overflow":
        return (
            f"the kernel sent a message on {channel} larger than the {RELAY_MEMORY // MB} MiB "
            f"its relay can hold, over {bound}"
        )
    return f"the grader's relay to the kernel failed on {channel} ({detail})"


class BoundedSockets(ConnectionFileMixin):
    """A kernel manager or client whose sockets to the kernel refuse oversized frames, and go
    through the kernel's :class:`Relay` once it has one."""

    relay: Relay | None = None

    def _make_url(self, channel: str) -> str:
        if self.relay is not None:
            return self.relay.urls[channel]
        url: str = super()._make_url(channel)
        return url

    def kernel_urls(self) -> dict[str, str]:
        """Channel -> the kernel's own address (the relay's side)."""
        return {channel: ConnectionFileMixin._make_url(self, channel) for channel in CHANNELS}

    def _create_connected_socket(
        self, channel: str, identity: bytes | None = None
    ) -> zmq.sugar.socket.Socket[t.Any]:
        bound_sockets(self.context)
        return super()._create_connected_socket(channel, identity)


@dataclass(frozen=True)
class _Watched:
    """A channel's socket and the monitor that reports its disconnects."""

    socket: zmq.Socket[t.Any]
    url: str
    monitor: zmq.Socket[t.Any]
    """The PAIR end, in the client's context, which closes it with the channels."""
    events: zmq.Socket[bytes]
    """A blocking view of ``monitor``, read only while ``monitor`` is open."""

    def resets(self) -> int:
        """Disconnects since the last call; reconnects the socket after any."""
        found = 0
        while not self.monitor.closed:
            try:
                event = parse_monitor_message(self.events.recv_multipart(zmq.NOBLOCK))
            except zmq.ZMQError:  # zmq.Again: nothing more
                break
            found += event["event"] == zmq.EVENT_DISCONNECTED
        if found and not self.socket.closed:
            # libzmq never reconnects after a protocol error (an oversized frame is one): the
            # channel would stay silent for the rest of the notebook.
            self.socket.disconnect(self.url)
            self.socket.connect(self.url)
        return found


class BoundedKernelClient(BoundedSockets, AsyncKernelClient):
    """The grader's kernel client: bounded sockets, each watched for the disconnects a kernel
    causes by sending an oversized message, and reconnected after one."""

    def _create_connected_socket(
        self, channel: str, identity: bytes | None = None
    ) -> zmq.sugar.socket.Socket[t.Any]:
        sock = super()._create_connected_socket(channel, identity)
        monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        events: zmq.Socket[bytes] = zmq.Socket.shadow(monitor.underlying)
        self._watched().append(_Watched(sock, self._make_url(channel), monitor, events))
        return sock

    def _watched(self) -> list[_Watched]:
        # Made on first use: traitlets classes take their settings as keyword arguments.
        watched: list[_Watched] = self.__dict__.setdefault("_grader_watched", [])
        return watched

    def take_resets(self) -> int:
        """How many times a channel was disconnected since the last call, each reconnected
        (0 for an honest kernel: only an oversized message, or a kernel tampering with its
        sockets, does it): the relay's connections to the kernel and the client's own."""
        own = sum(watched.resets() for watched in self._watched())
        return own + (self.relay.take_resets() if self.relay is not None else 0)

    def relay_failure(self) -> str:
        """Why the kernel's relay ended (see :meth:`Relay.failure`); empty while it runs."""
        return self.relay.failure() if self.relay is not None else ""
