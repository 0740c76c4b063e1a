"""The relay between one kernel's sockets and the grader's: a small process with its own memory
limit that forwards only messages within a size bound.

libzmq bounds each part (frame) of a message (``ZMQ_MAXMSGSIZE``), not how many parts a message
has, and hands a message over only once all of its parts have arrived: a kernel sending 256 MiB
as 64 parts of 4 MiB made whichever process received it hold all 256 MiB. So the grader never
connects to a kernel. Each kernel gets a relay, started by its kernel manager
(:class:`grader.execute.channels.Relay`): it connects to the kernel's five sockets, binds five of
its own where the grader connects, and forwards each message whole, with zero copies:

* a message from the kernel whose parts add up to more than its bound is refused: the relay
  says so and exits;
* a message too large to hold makes an allocation fail at the relay's data limit
  (``RLIMIT_DATA``): libzmq drops the connection with the part it was reading, and the relay,
  its memory's high-water mark near that limit, says so and exits.

Either way the grader sees the relay end, stops the kernel and names the outcome, and it never
held any of the message. As before, a single part over the frame bound is refused unread by
libzmq (it drops the connection too, having allocated nothing): the relay re-makes that
connection, reports a reset, and the kernel runs on.

It is the grader's code handling hostile bytes, so it imports nothing but the standard library
and pyzmq (it is on the path of every kernel start), and needs no privileges. It reports on
stdout, one line each: ``ready``; ``reset CHANNEL``; ``refused CHANNEL BYTES`` or ``overflow
CHANNEL`` (then exits with :data:`EXIT_REFUSED`); ``failed CHANNEL ERROR`` (then exits with
:data:`EXIT_FAILED`). It exits
when its stdin closes: the grader let go of it, or died.

Run as ``python -I relay.py SPEC``, ``SPEC`` being the JSON of :class:`Spec`'s fields.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import typing as t
from dataclasses import dataclass

import zmq
from zmq.utils.monitor import parse_monitor_message

EXIT_REFUSED = 3
"""The relay's exit status after refusing a message over its bound."""
EXIT_FAILED = 4
"""The relay's exit status after an error of its own (a failed allocation, a socket error)."""
# The grader's end and the kernel's end of each channel. The kernel's ROUTER sockets see one
# DEALER per channel (it routes replies by the identities a request came with, so the grader's
# sockets stay distinct behind it); IOPub forwards subscriptions (XPUB/XSUB).
SOCKETS = {
    "shell": (zmq.ROUTER, zmq.DEALER),
    "control": (zmq.ROUTER, zmq.DEALER),
    "stdin": (zmq.ROUTER, zmq.DEALER),
    "hb": (zmq.ROUTER, zmq.DEALER),
    "iopub": (zmq.XPUB, zmq.XSUB),
}
THREAD_STACK = 256 * 1024
"""Each channel's thread needs little stack; its default (8 MiB) would count against the
relay's data limit."""


@dataclass(frozen=True)
class Spec:
    """What a relay connects, binds and bounds."""

    kernel: dict[str, str]
    """Channel -> the kernel's address, which the relay connects to."""
    grader: dict[str, str]
    """Channel -> the relay's own address, where the grader connects."""
    max_frame: int
    """The largest part of a message the relay reads from the kernel."""
    max_message: int
    """The largest message, all its parts together, it forwards to the grader."""
    memory: int
    """Bytes of data the relay may allocate once started: bounds what a message it cannot
    refuse before receiving it whole makes it hold."""
    queue: int
    """Messages queued per socket, each way (ZeroMQ's high-water marks)."""


def _say(line: str) -> None:
    os.write(1, f"{line}\n".encode())


def memory_line(field: str) -> int:
    """A field of this process's ``/proc/self/status`` in bytes (``VmData``, ``VmPeak`` ...)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


@dataclass(frozen=True)
class _Memory:
    """The relay's data limit, and how to tell that a dropped connection was a message that
    did not fit under it."""

    resident_at_start: int
    """``VmRSS`` when the limit was set."""
    overflow_at: int
    """Growth of the resident high-water mark past which an allocation failed."""

    def overflowed(self) -> bool:
        """Whether the relay came within two parts of its limit: a dropped connection was
        then a message it could not hold. An oversized part is refused before any of it is
        allocated, so it leaves the high-water mark where it was; the parts of a message are
        written as they arrive, so they are resident. (Not ``VmPeak``: each thread's malloc
        arena reserves 64 MiB of address space it never uses.)"""
        return memory_line("VmHWM") - self.resident_at_start > self.overflow_at


class _Channel:
    """One channel: the grader's end, the kernel's end, and a monitor on the kernel's end."""

    def __init__(self, context: zmq.Context[t.Any], name: str, spec: Spec, identity: bytes):
        front_type, back_type = SOCKETS[name]
        self.name = name
        self.url = spec.kernel[name]
        self.max_message = spec.max_message
        self.memory: _Memory | None = None
        self.front = context.socket(front_type)
        self.back = context.socket(back_type)
        for sock in (self.front, self.back):
            sock.linger = 0
            sock.sndhwm = sock.rcvhwm = spec.queue
        if name == "iopub":
            self.front.setsockopt(zmq.XPUB_NODROP, 1)  # a slow grader slows the kernel down
        else:
            # The kernel sends stdin requests to the identity its shell requests came from.
            self.back.setsockopt(zmq.IDENTITY, identity)
        self.back.setsockopt(zmq.MAXMSGSIZE, spec.max_frame)
        self.monitor = self.back.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        self.front.bind(spec.grader[name])
        self.back.connect(self.url)

    def pump(self) -> None:
        """Forward messages both ways until the process ends; exit on a refused message."""
        try:
            self._pump()
        except Exception as exc:  # a failed allocation, a socket error: the relay is done
            _say(f"failed {self.name} {type(exc).__name__}")
            os._exit(EXIT_FAILED)

    def _pump(self) -> None:
        poller = zmq.Poller()
        for sock in (self.front, self.back, self.monitor):
            poller.register(sock, zmq.POLLIN)
        while True:
            for sock, _ in poller.poll():
                if sock is self.monitor:
                    self._reconnect()
                elif sock is self.back:
                    parts = self.back.recv_multipart(copy=False)
                    size = sum(len(part) for part in parts)
                    if size > self.max_message:
                        _say(f"refused {self.name} {size}")
                        os._exit(EXIT_REFUSED)
                    self.front.send_multipart(parts, copy=False)
                else:
                    self.back.send_multipart(self.front.recv_multipart(copy=False), copy=False)

    def _reconnect(self) -> None:
        event = parse_monitor_message(self.monitor.recv_multipart())
        if event["event"] != zmq.EVENT_DISCONNECTED:
            return
        if self.memory is not None and self.memory.overflowed():
            _say(f"overflow {self.name}")
            os._exit(EXIT_REFUSED)
        # libzmq never reconnects after a protocol error (an oversized part is one).
        self.back.disconnect(self.url)
        self.back.connect(self.url)
        _say(f"reset {self.name}")


def run(spec: Spec) -> None:
    """Relay every channel of ``spec`` until stdin closes."""
    context: zmq.Context[t.Any] = zmq.Context(io_threads=1)
    identity = b"relay-" + os.urandom(8).hex().encode()
    threading.stack_size(THREAD_STACK)
    channels = [_Channel(context, name, spec, identity) for name in SOCKETS]
    # Set once every socket exists, before any thread reads: from now on only messages
    # allocate. Each thread's stack is counted in, as the limit counts it.
    memory = _Memory(memory_line("VmRSS"), spec.memory - 2 * spec.max_frame)
    limit = memory_line("VmData") + THREAD_STACK * len(channels) + spec.memory
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    for channel in channels:
        channel.memory = memory
        threading.Thread(target=channel.pump, daemon=True).start()
    _say("ready")
    while os.read(0, 4096):  # until the grader closes stdin (or dies)
        pass
    os._exit(0)


def main(argv: list[str]) -> None:
    """``relay.py SPEC``: run the relay :class:`Spec` describes (its JSON)."""
    run(Spec(**json.loads(argv[0])))


if __name__ == "__main__":
    main(sys.argv[1:])
