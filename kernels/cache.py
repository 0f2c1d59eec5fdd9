"""Numba's on-disk cache of the CPU kernels, stamped with every kernel source at once.

Numba stamps a cached function with the hash of its own file, yet a cached caller holds the
compiled code of every function it calls (a limitation Numba's documentation states): after an
edit to ``cpu/register_tile.py`` alone, ``cpu/mlp.forward_pass`` went on running the old tiles
from its cache, silently. Here the stamp of every function defined under this package is one
hash of all its sources, so an upgrade, a ``git pull`` or an edit that changes any kernel
recompiles them all, and nothing else does. The cache stays where Numba puts it
($NUMBA_CACHE_DIR, else ``__pycache__`` beside each source): these locators are Numba's own,
with the stamp replaced, ahead of Numba's in its list. A user's NUMBA_CACHE_LOCATOR_CLASSES
overrides that list and so keeps Numba's per-file stamps.
"""

import functools
import hashlib
from pathlib import Path

from numba.core import caching

ROOT = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=None)
def sources_stamp(root=ROOT):
    """SHA-256 hex digest of every ``*.py`` file under `root` (relative paths and contents, in
    sorted order), computed once per process and root: ~30 files, under a millisecond."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


class _KernelSources:
    """Locator mixin: only for functions defined under ROOT, stamped by `sources_stamp`."""

    @classmethod
    def from_function(cls, py_func, py_file):
        if not Path(py_file).resolve().is_relative_to(ROOT):
            return None
        return super().from_function(py_func, py_file)

    def get_source_stamp(self):
        return sources_stamp()


class UserProvidedKernelLocator(_KernelSources, caching.UserProvidedCacheLocator):
    """Numba's $NUMBA_CACHE_DIR locator for the kernels."""


class InTreeKernelLocator(_KernelSources, caching.InTreeCacheLocator):
    """Numba's ``__pycache__`` locator for the kernels."""


LOCATORS = (UserProvidedKernelLocator, InTreeKernelLocator)
if not any(issubclass(c, _KernelSources) for c in caching.CacheImpl._locator_classes):
    caching.CacheImpl._locator_classes[:0] = LOCATORS
