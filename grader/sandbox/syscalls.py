"""The system calls a confined process is refused: a seccomp filter built with libseccomp.

Namespaces, an unprivileged user and ``no_new_privs`` already keep a kernel from most of the
machine; the filter takes away the parts of the Linux kernel that a notebook never needs and
that are the usual way out of a sandbox (kernel bugs reached through user namespaces, BPF,
io_uring, keyrings; another process's memory through ptrace). Every refused call fails with
``EPERM``, as it would without the privilege, so a library that probes for one degrades
instead of dying. Everything else is allowed: the filter is a deny-list on top of the
sandbox, not the sandbox itself.

The grader builds the filter once per process, with libseccomp (through ``pyseccomp``), which
knows every architecture's system call numbers; the launcher, standard library only, loads the
compiled program in the confined process just before it runs the command (see
:mod:`grader.sandbox.launcher`).
"""

from __future__ import annotations

import errno
import functools
import tempfile

from grader.exceptions import ExecutionError

REFUSED = (
    # Another process's memory and descriptors (a kernel of the same batch runs as another
    # user, but a kernel's own children are its to trace).
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "process_madvise",
    "pidfd_getfd",
    "kcmp",
    # File systems and namespaces: the launcher built the sandbox's; nothing inside changes it.
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "open_tree_attr",
    "mount_setattr",
    "open_by_handle_at",
    "fanotify_init",
    # Kernel interfaces that unprivileged code can reach and that sandbox escapes go through.
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "keyctl",
    "add_key",
    "request_key",
    "modify_ldt",
    "vm86",
    "vm86old",
    "uselib",
    # The machine itself: its kernel, time, names, swap, accounting, log.
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "query_module",
    "get_kernel_syms",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "syslog",
    "quotactl",
    "quotactl_fd",
    "nfsservctl",
    "lookup_dcookie",
    "iopl",
    "ioperm",
    "vhangup",
    "_sysctl",
    "clock_settime",
    "clock_adjtime",
    "settimeofday",
    "stime",
    "sethostname",
    "setdomainname",
)
"""Refused outright, on every architecture that has them."""

NEW_NAMESPACES = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)
"""``clone`` flags refused: a new namespace is ``unshare`` by another name."""

PERSONALITY_QUERY = 0xFFFFFFFF
"""``personality``'s one allowed argument: it reads the personality without changing it (a
change can turn off address-space randomisation or make readable memory executable)."""


@functools.cache
def filter_program() -> bytes:
    """The compiled seccomp filter (classic BPF, native byte order), built once.

    Raises:
        ExecutionError: libseccomp is not installed, or cannot build the filter here.
    """
    try:
        import pyseccomp as seccomp
    except (ImportError, RuntimeError) as exc:  # pyseccomp raises RuntimeError without the library
        raise ExecutionError(
            f"the sandbox needs libseccomp ({exc}): install it (Debian and Ubuntu: apt-get "
            "install libseccomp2) and pyseccomp, or turn the sandbox off to debug"
        ) from None
    refuse = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    # A call made through another architecture's entry (32-bit int 0x80, x32) would pass a
    # filter written for the native one: refused whole.
    rules.set_attr(seccomp.Attr.ACT_BADARCH, refuse)
    native = seccomp.system_arch()
    for name in REFUSED:
        if seccomp.resolve_syscall(native, name) != -1:  # unknown to this libseccomp: none here
            rules.add_rule(refuse, name)
    # clone's flags are its first argument everywhere but on s390, where they are the second.
    flags = 1 if native in (seccomp.Arch.S390, seccomp.Arch.S390X) else 0
    for flag in NEW_NAMESPACES:
        rules.add_rule(refuse, "clone", seccomp.Arg(flags, seccomp.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory, which a filter cannot read: "not implemented" makes
    # the C library (threads, posix_spawn) fall back to clone, whose flags it can.
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    rules.add_rule(refuse, "personality", seccomp.Arg(0, seccomp.NE, PERSONALITY_QUERY))
    with tempfile.TemporaryFile() as fh:
        try:
            rules.export_bpf(fh)
        except OSError as exc:
            raise ExecutionError(f"the sandbox's seccomp filter cannot be built: {exc}") from None
        fh.seek(0)
        return fh.read()
