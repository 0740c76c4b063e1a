"""The grader's sockets to a kernel refuse oversized messages unread, and recover after one.

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

from grader.execute.channels import MAX_FRAME_BYTES, RECEIVE_QUEUE, BoundedKernelClient
from grader.sandbox.kernel import SandboxedKernelManager


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
