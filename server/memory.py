"""How the process's C allocator hands memory back to the system.

A large answer (a compiled read of a thousand cases is a megabyte or more) passes through
several buffers of its size: the driver's, the response's, the socket's. glibc serves such a
request from its heap once its adaptive threshold has grown past that size, and a heap keeps
what it has grown to: under concurrent large reads a worker's resident memory grew to 320–350
MB and stayed there. With a fixed threshold every buffer of 128 KB or more is its own mapping,
returned to the system when freed (measured: 170 MB at the same load, `bench/README.md`); the
price is a `mmap`/`munmap` pair for each such buffer, a few microseconds beside a read of that
size.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

_log = logging.getLogger(__name__)

# glibc's `mallopt` parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

LARGE_BUFFER_BYTES = 128 * 1024
"""Buffers from this size up are mapped on their own and unmapped when freed."""


def return_large_buffers(threshold: int = LARGE_BUFFER_BYTES) -> bool:
    """Fix glibc's mmap threshold (and trim the heap above the same size); whether it was
    done. Elsewhere than glibc (musl, macOS) nothing changes."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, threshold * 2)
    )
    if not done:
        _log.debug("the C allocator refused the thresholds; memory is left as it is")
    return done
