"""The kernel manager of a sandboxed kernel: jupyter_client's, with the kernel started in its
sandbox (:mod:`grader.sandbox.kernel`) and every socket through the bounded relay
(:mod:`grader.execute.channels`)."""

from __future__ import annotations

import os
import sys
import typing as t

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import DottedObjectName, Type

from grader.execute.channels import BoundedKernelClient, BoundedSockets, Relay
from grader.sandbox.fork_server import ForkServer
from grader.sandbox.kernel import Sandbox


class SandboxedKernelManager(BoundedSockets, AsyncKernelManager):
    """Starts the kernel through :mod:`grader.sandbox.launcher` when a sandbox is set.

    Its sockets, and its clients' (:class:`~grader.execute.channels.BoundedKernelClient`),
    reach the kernel through its :class:`~grader.execute.channels.Relay`, started with the
    kernel and stopped with it, and refuse oversized messages before reading them. A kernel
    whose relay ended is killed, and reported dead, the next time anyone asks whether it is
    alive (nbclient asks every second while a cell runs).
    """

    sandbox: Sandbox | None = None
    fork_server: ForkServer | None = None
    """Where the kernel is forked from instead of started (:mod:`grader.kernel.forked`)."""
    client_class = DottedObjectName("grader.execute.channels.BoundedKernelClient")
    client_factory = Type(default_value=BoundedKernelClient, klass=AsyncKernelClient)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd: list[str] = super().format_kernel_cmd(extra_arguments)
        python = self.sandbox.options.python if self.sandbox is not None else None
        if python and cmd and cmd[0] == sys.executable:
            cmd = [python, *cmd[1:]]  # the course's interpreter (a rubric's [execution] python)
        if self.sandbox is None or not self.sandbox.options.enabled:
            return cmd
        confinement = self.sandbox.confinement
        # Jupyter has just written the connection file, readable by the grader only.
        if confinement.uid is not None and os.path.isfile(self.connection_file):
            os.chown(self.connection_file, confinement.uid, confinement.gid or confinement.uid)
        if self.fork_server is not None and cmd[0] == sys.executable:
            return self.fork_server.command(confinement, cmd[1:])
        return confinement.command(cmd)

    async def _async_pre_start_kernel(self, **kw: t.Any) -> tuple[list[str], dict[str, t.Any]]:
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        # The kernel's addresses are known now (its connection file is written): the relay
        # starts alongside the kernel, and the grader's first socket (control) goes through it.
        if self.relay is not None:
            self.relay.close()
        self.relay = Relay(self.kernel_urls())
        return cmd, kw

    def client(self, **kwargs: t.Any) -> AsyncKernelClient:  # type: ignore[override]
        client = super().client(**kwargs)
        if isinstance(client, BoundedKernelClient):
            client.relay = self.relay
        return client

    async def _async_is_alive(self) -> bool:
        if self.relay is not None and self.relay.failure():
            # Its messages no longer reach the grader: stop it, with every process it started.
            provisioner = self.provisioner if self.has_kernel else None
            if provisioner is not None and await provisioner.poll() is None:
                await provisioner.kill()
            return False
        alive: bool = await super()._async_is_alive()
        return alive

    is_alive = _async_is_alive

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self.relay is not None and not restart:
            self.relay.close()


def kernel_manager(box: Sandbox) -> SandboxedKernelManager:
    """The manager of a kernel in ``box``, talking over IPC sockets in its folder.

    IPC transport: the kernel and the grader talk over Unix sockets, not TCP, so the kernel
    needs no network.
    """
    km = SandboxedKernelManager(kernel_name="python3", transport="ipc", ip=str(box.ipc / "kernel"))
    km.sandbox = box
    km.connection_file = str(box.connection_file)
    return km
