"""Resource limits of a notebook kernel (the rubric's ``[sandbox]`` table).

Kept apart from :mod:`grader.sandbox.confine` so that reading a rubric imports no Jupyter machinery.
"""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024

THREAD_VARIABLES = (
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)
"""Environment variables that size TensorFlow's and the BLAS libraries' thread pools."""

ARITHMETIC_THREADS = 1
"""Threads of every TensorFlow and BLAS pool that computes a figure: the kernel's, the judge's
and calibration's, whatever ``-j`` and the machine's cores. TensorFlow splits a convolution's or
a matrix product's sums by its pool's size, so two thread counts round differently and give
another accuracy (70.5% at one thread, 71.0% at two, on the same notebook). One thread never
oversubscribes a machine grading one notebook per core (see benchmarks/thread_cost.py)."""


def thread_env() -> dict[str, str]:
    """The environment that gives a process :data:`ARITHMETIC_THREADS` threads per pool."""
    return dict.fromkeys(THREAD_VARIABLES, str(ARITHMETIC_THREADS))


@dataclass(frozen=True)
class Limits:
    """Resource limits of one kernel. Defaults suit a 2-core, 24 GB machine grading 2 at once."""

    memory_mb: int = 8192
    """Data segment (``RLIMIT_DATA``: heap and private memory maps), in MiB. Not the address
    space: TensorFlow maps far more address space than it uses."""
    cpu_seconds: int = 7200
    """CPU time of the kernel process, all threads together (``RLIMIT_CPU``)."""
    processes: int = 512
    """Processes and threads of the sandbox user (``RLIMIT_NPROC``). TensorFlow alone starts
    tens of threads."""
    file_size_mb: int = 1024
    """Largest file the kernel may write (``RLIMIT_FSIZE``), in MiB."""
    open_files: int = 1024
    """Open file descriptors (``RLIMIT_NOFILE``)."""
    output_kb: int = 1024
    """Output one cell may produce (text, images, display updates) before the grader cuts it,
    in KiB."""
    notebook_output_mb: int = 32
    """Output all cells together may produce before the grader cuts the rest, in MiB: bounds
    ``executed.ipynb`` and the grader's memory however many cells a notebook has."""
    tmpfs_mb: int = 512
    """Size of each of the kernel's private ``/tmp``, ``/var/tmp`` and ``/dev/shm``, in MiB.
    They are memory that ``RLIMIT_DATA`` does not count, so they are capped apart."""

    def rlimits(self) -> dict[str, tuple[int, int]]:
        """``resource`` limit name -> (soft, hard)."""
        return {
            "RLIMIT_DATA": (self.memory_mb * MB, self.memory_mb * MB),
            # The soft limit sends SIGXCPU (reported as a timeout); the hard one kills.
            "RLIMIT_CPU": (self.cpu_seconds, self.cpu_seconds + 5),
            "RLIMIT_NPROC": (self.processes, self.processes),
            "RLIMIT_FSIZE": (self.file_size_mb * MB, self.file_size_mb * MB),
            "RLIMIT_NOFILE": (self.open_files, self.open_files),
            "RLIMIT_CORE": (0, 0),
        }


LIMIT_FIELDS = (
    "memory_mb",
    "cpu_seconds",
    "processes",
    "file_size_mb",
    "open_files",
    "output_kb",
    "notebook_output_mb",
    "tmpfs_mb",
)
