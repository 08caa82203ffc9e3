"""Process memory settings for the service.

glibc's allocator gives threads their own heap arenas (up to eight per core) and returns little
of an arena to the system; a service whose batches run in worker threads then keeps the peak of
every arena resident. Two arenas hold the same load: the soak measured 130 MiB resident with the
default and 118 MiB with two (`benchmarks/soak.py`), at the same throughput.
"""

import ctypes
import ctypes.util
import os
from typing import Final

_M_ARENA_MAX: Final = -8  # mallopt's parameter number (malloc.h)
ARENAS: Final = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's heap arenas (before the service starts its threads); MALLOC_ARENA_MAX in the
    environment wins. False when the C library is not glibc."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))
