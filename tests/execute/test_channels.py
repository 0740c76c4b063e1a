"""The grader's sockets to a kernel refuse oversized messages unread, and recover after one;
the relay between them forwards every channel and ends on a message over its bound, however
many parts it comes in.

A fake kernel (plain ZeroMQ sockets bound where the kernel's would be) stands in for a hostile
one: no kernel is started.
"""

from __future__ import annotations

import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

import pytest
import zmq

from grader.execute.channels import (
    CHANNELS,
    MAX_FRAME_BYTES,
    MAX_MESSAGE_BYTES,
    RECEIVE_QUEUE,
    RELAY_MEMORY,
    BoundedKernelClient,
    Relay,
)
from grader.execute.kernel_manager import SandboxedKernelManager
from grader.sandbox.limits import MB


@dataclass
class Sides:
    """The grader's side of a kernel that was never started: its manager and a client."""

    manager: SandboxedKernelManager
    client: BoundedKernelClient


@pytest.fixture
def sides(tmp_path: Path) -> t.Iterator[Sides]:
    km = SandboxedKernelManager(kernel_name="python3", transport="ipc", ip=str(tmp_path / "k"))
    km.connection_file = str(tmp_path / "kernel.json")
    km.write_connection_file()
    client = km.client()
    assert isinstance(client, BoundedKernelClient)
    yield Sides(km, client)
    client.context.destroy(linger=0)  # closes every socket it made
    km.context.destroy(linger=0)


def test_every_channel_socket_is_bounded_before_it_connects(sides: Sides) -> None:
    client = sides.client
    sockets = {
        "iopub": client.connect_iopub(),
        "shell": client.connect_shell(),
        "stdin": client.connect_stdin(),
        "control": client.connect_control(),
        "manager's control": sides.manager.connect_control(),
    }
    for name, sock in sockets.items():
        assert sock.getsockopt(zmq.MAXMSGSIZE) == MAX_FRAME_BYTES, name
        assert sock.getsockopt(zmq.RCVHWM) == RECEIVE_QUEUE, name


def receive(sock: zmq.Socket[bytes], timeout_s: float = 5.0) -> bytes | None:
    if sock.poll(int(timeout_s * 1000)):
        return sock.recv(zmq.NOBLOCK)
    return None


def test_an_oversized_message_is_dropped_unread_and_the_channel_recovers(sides: Sides) -> None:
    client = sides.client
    kernel = zmq.Context()
    pub = kernel.socket(zmq.PUB)
    pub.bind(client._make_url("iopub"))
    iopub = client.connect_iopub()
    reader: zmq.Socket[bytes] = zmq.Socket.shadow(iopub.underlying)
    try:
        time.sleep(0.3)  # the subscription reaches the publisher
        pub.send(b"small")
        assert receive(reader) == b"small"
        assert client.take_resets() == 0
        pub.send(b"x" * (MAX_FRAME_BYTES + 1))  # refused by its announced length
        pub.send(b"lost")  # the connection is gone: never received
        assert receive(reader, 1.0) is None
        deadline = time.monotonic() + 5
        resets = 0
        while not resets and time.monotonic() < deadline:
            resets = client.take_resets()
            time.sleep(0.05)
        assert resets == 1  # and reconnected
        time.sleep(0.3)
        pub.send(b"after")
        assert receive(reader) == b"after"
    finally:
        pub.close(linger=0)
        kernel.term()


# --- the relay between a kernel and the grader ---------------------------------------------------


@dataclass
class Relayed:
    """A fake kernel's sockets, bound where a kernel's would be, and its relay."""

    kernel: dict[str, zmq.Socket[bytes]]
    relay: Relay
    grader: zmq.Context[zmq.Socket[bytes]]
    opened: list[zmq.Socket[bytes]]

    def connect(self, channel: str, kind: int, identity: bytes = b"") -> zmq.Socket[bytes]:
        """A socket of the grader's, connected to the relay."""
        sock = self.grader.socket(kind)
        sock.linger = 0
        if identity:
            sock.identity = identity
        if kind == zmq.SUB:
            sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(self.relay.urls[channel])
        self.opened.append(sock)
        return sock

    def ended(self, timeout_s: float = 20.0) -> str:
        deadline = time.monotonic() + timeout_s
        while not self.relay.failure() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.relay.failure()


@pytest.fixture
def relayed(tmp_path: Path) -> t.Iterator[Relayed]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    kinds = {"shell": zmq.ROUTER, "control": zmq.ROUTER, "stdin": zmq.ROUTER,
             "hb": zmq.ROUTER, "iopub": zmq.XPUB}  # fmt: skip
    kernel = {}
    for channel, kind in kinds.items():
        sock = context.socket(kind)
        sock.linger = 0
        sock.bind(f"ipc://{tmp_path}/kernel-{channel}")
        kernel[channel] = sock
    relay = Relay({channel: f"ipc://{tmp_path}/kernel-{channel}" for channel in CHANNELS})
    grader: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    relayed = Relayed(kernel, relay, grader, [])
    yield relayed
    relay.close()
    for sock in [*relayed.opened, *kernel.values()]:
        sock.close(linger=0)
    grader.term()
    context.term()


def received(sock: zmq.Socket[bytes], timeout_s: float = 10.0) -> list[bytes] | None:
    if sock.poll(int(timeout_s * 1000)):
        return sock.recv_multipart(zmq.NOBLOCK)
    return None


def subscribed(relayed: Relayed) -> zmq.Socket[bytes]:
    """The grader's IOPub socket, once its subscription has reached the kernel."""
    sub = relayed.connect("iopub", zmq.SUB)
    assert received(relayed.kernel["iopub"]) == [b"\x01"]  # through the relay's XSUB
    return sub


def test_the_relay_carries_every_channel_both_ways(relayed: Relayed) -> None:
    kernel = relayed.kernel
    iopub = subscribed(relayed)
    kernel["iopub"].send_multipart([b"status", b"idle"])
    assert received(iopub) == [b"status", b"idle"]
    # Shell and stdin share the grader's identity: the kernel asks for input on stdin, routed
    # by the identities its shell request came with.
    shell = relayed.connect("shell", zmq.DEALER, b"session")
    stdin = relayed.connect("stdin", zmq.DEALER, b"session")
    shell.send_multipart([b"<IDS|MSG>", b"execute_request"])
    request = received(kernel["shell"])
    assert request is not None and request[-2:] == [b"<IDS|MSG>", b"execute_request"]
    idents = request[:-2]
    assert len(idents) == 2 and idents[1] == b"session"  # the relay's, then the grader's
    kernel["stdin"].send_multipart([*idents, b"<IDS|MSG>", b"input_request"])
    assert received(stdin) == [b"<IDS|MSG>", b"input_request"]
    kernel["shell"].send_multipart([*idents, b"<IDS|MSG>", b"execute_reply"])
    assert received(shell) == [b"<IDS|MSG>", b"execute_reply"]
    for channel in ("hb", "control"):  # the heartbeat echoes; control is like shell
        sock = relayed.connect(channel, zmq.REQ if channel == "hb" else zmq.DEALER)
        sock.send(b"ping")
        echo = received(kernel[channel])
        assert echo is not None and echo[-1] == b"ping"
        kernel[channel].send_multipart(echo)
        assert received(sock) == [b"ping"]
    assert relayed.relay.take_resets() == 0 and relayed.relay.failure() == ""


def test_the_relay_refuses_a_message_over_its_bound_in_all_its_parts(relayed: Relayed) -> None:
    iopub = subscribed(relayed)
    part = b"x" * (4 * MB)  # each part far below the frame bound
    assert len(part) * 5 > MAX_MESSAGE_BYTES
    relayed.kernel["iopub"].send_multipart([b"stream", *[part] * 5], copy=False)
    why = relayed.ended()
    assert why.startswith("the kernel sent a 20 MiB message on iopub, over the 16 MiB"), why
    assert received(iopub, 0.5) is None  # the grader never got any of it


def test_a_message_too_large_for_the_relay_ends_it_before_the_grader_holds_any(
    relayed: Relayed,
) -> None:
    iopub = subscribed(relayed)
    part = b"x" * (4 * MB)
    for _ in range(2):  # 2 x 512 MiB, zero copies on the sending side
        relayed.kernel["iopub"].send_multipart([b"stream", *[part] * 128], copy=False)
    why = relayed.ended(60)
    assert f"larger than the {RELAY_MEMORY // MB} MiB its relay can hold" in why, why
    assert received(iopub, 0.5) is None


def test_an_oversized_part_resets_the_relay_connection_and_the_channel_recovers(
    relayed: Relayed,
) -> None:
    iopub = subscribed(relayed)
    relayed.kernel["iopub"].send_multipart([b"stream", b"x" * (MAX_FRAME_BYTES + 1)])
    deadline = time.monotonic() + 10
    resets = 0
    while not resets and time.monotonic() < deadline:
        resets = relayed.relay.take_resets()
        time.sleep(0.05)
    assert resets == 1 and relayed.relay.failure() == ""
    # The relay connected again: once its subscription is back, messages flow.
    after = None
    while after is None and time.monotonic() < deadline + 10:
        relayed.kernel["iopub"].send_multipart([b"stream", b"after"])
        after = received(iopub, 0.2)
    assert after == [b"stream", b"after"]
