"""Sockets to a kernel that refuse an oversized message before any of it is read.

jupyter_client receives a whole message, then decodes it, before the output limits of
:class:`~grader.execute.client.BoundedClient` can count it: a cell pushing pre-packed 256 MiB
messages through its own IOPub session grew the grader by 1.5 GB per GiB sent. Every socket the
grader connects to a kernel (the client's IOPub, shell, stdin, control and heartbeat channels,
and the kernel manager's own control socket) is therefore made with ZeroMQ's
``ZMQ_MAXMSGSIZE``: libzmq reads a frame's length first, and disconnects a peer announcing more
than :data:`MAX_FRAME_BYTES` without reading the frame. A small receive queue
(:data:`RECEIVE_QUEUE` messages) makes a kernel that sends faster than the grader decodes keep
the backlog in its own memory (its send queue), not in the grader's.

What this does not bound: libzmq limits each part (frame) of a message, not how many parts
one message has, and holds a message's parts until its last one arrives. A kernel splitting
256 MiB into 64 parts of 4 MiB still makes the grader hold those 256 MiB (the JSON decoding,
which tripled the cost, is gone: such parts are buffers, never decoded). Bounding that needs
the sockets in a process of their own, with its own memory limit.

A refused message is lost and the kernel runs on. libzmq does not reconnect after such a protocol
error, so the client watches its sockets and, after each cell, counts the disconnects and
reconnects (:meth:`BoundedKernelClient.take_resets`): the grader names them in the cell's
outcome, and the next cells talk to the kernel as before.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.connect import ConnectionFileMixin
from zmq.utils.monitor import parse_monitor_message

from grader.sandbox.limits import MB

MAX_FRAME_BYTES = 8 * MB
"""The largest message frame the grader reads from a kernel: 8x the default per-cell output
limit (a larger output would be cut anyway), and far above any reply or status message."""
RECEIVE_QUEUE = 8
"""Messages ZeroMQ may queue per socket for the grader before it stops reading from the
kernel (libzmq's default is 1,000)."""


def bound_sockets(context: zmq.Context[t.Any]) -> None:
    """Make every socket ``context`` creates from now on refuse oversized frames.

    pyzmq applies a context's socket options to each socket when it is created, so they hold
    before the socket connects, as ``ZMQ_MAXMSGSIZE`` must.
    """
    context.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
    context.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)


class BoundedSockets(ConnectionFileMixin):
    """A kernel manager or client whose sockets to the kernel refuse oversized frames."""

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
        sockets, does it)."""
        return sum(watched.resets() for watched in self._watched())
