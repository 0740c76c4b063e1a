"""The grader's sockets to a kernel refuse oversized messages unread, and recover after one.

A fake kernel (plain ZeroMQ sockets bound where the kernel's would be) stands in for a hostile
one: no kernel is started.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import zmq

from grader.execute.channels import MAX_FRAME_BYTES, RECEIVE_QUEUE, BoundedKernelClient
from grader.sandbox.kernel import SandboxedKernelManager


@pytest.fixture
def manager(tmp_path: Path) -> SandboxedKernelManager:
    km = SandboxedKernelManager(kernel_name="python3", transport="ipc", ip=str(tmp_path / "k"))
    km.connection_file = str(tmp_path / "kernel.json")
    km.write_connection_file()
    return km


def test_every_channel_socket_is_bounded_before_it_connects(
    manager: SandboxedKernelManager,
) -> None:
    client = manager.client()
    assert isinstance(client, BoundedKernelClient)
    sockets = {
        "iopub": client.connect_iopub(),
        "shell": client.connect_shell(),
        "stdin": client.connect_stdin(),
        "control": client.connect_control(),
        "manager's control": manager.connect_control(),
    }
    try:
        for name, sock in sockets.items():
            assert sock.getsockopt(zmq.MAXMSGSIZE) == MAX_FRAME_BYTES, name
            assert sock.getsockopt(zmq.RCVHWM) == RECEIVE_QUEUE, name
    finally:
        for sock in sockets.values():
            sock.close(linger=0)
        client.context.destroy(linger=0)
        manager.context.destroy(linger=0)


def receive(sock: zmq.Socket[bytes], timeout_s: float = 5.0) -> bytes | None:
    if sock.poll(int(timeout_s * 1000)):
        return sock.recv(zmq.NOBLOCK)
    return None


def test_an_oversized_message_is_dropped_unread_and_the_channel_recovers(
    manager: SandboxedKernelManager,
) -> None:
    client = manager.client()
    assert isinstance(client, BoundedKernelClient)
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
        iopub.close(linger=0)
        pub.close(linger=0)
        kernel.term()
        client.context.destroy(linger=0)
        manager.context.destroy(linger=0)
