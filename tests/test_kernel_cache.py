"""fastdds.kernels.cache: every cached kernel is stamped with all kernel sources together, so a
change to a callee's file recompiles its callers; functions outside the kernels keep Numba's
own per-file stamp."""

import importlib
import pkgutil
import sys

import pytest
from numba.core import caching
from numba.core.registry import CPUDispatcher

import fastdds.kernels.cpu
from fastdds.kernels import cache


def _cached_kernels():
    for info in pkgutil.iter_modules(fastdds.kernels.cpu.__path__):
        module = importlib.import_module(f"fastdds.kernels.cpu.{info.name}")
        for name, obj in vars(module).items():
            if isinstance(obj, CPUDispatcher) and hasattr(obj._cache, "_impl") \
                    and obj.py_func.__module__ == module.__name__:
                yield f"{info.name}.{name}", obj


def test_every_cached_kernel_is_stamped_with_all_sources():
    kernels = dict(_cached_kernels())
    assert {"mlp.forward_pass", "blas.gemm", "register_tile.product", "register_tile.dot_product"} <= set(kernels)
    stamp = cache.sources_stamp()
    for name, dispatcher in kernels.items():
        locator = dispatcher._cache._impl.locator
        assert isinstance(locator, cache.LOCATORS), name
        assert locator.get_source_stamp() == stamp, name


def test_any_change_to_a_source_changes_the_stamp(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    (tmp_path / "notes.txt").write_text("not a source\n")
    stamp = cache.sources_stamp.__wrapped__
    before = stamp(tmp_path)
    assert stamp(tmp_path) == before
    (tmp_path / "notes.txt").write_text("changed\n")
    assert stamp(tmp_path) == before
    (tmp_path / "cpu" / "a.py").write_text("x = 3\n")
    edited = stamp(tmp_path)
    assert edited != before
    (tmp_path / "cpu" / "a.py").rename(tmp_path / "cpu" / "c.py")
    assert stamp(tmp_path) not in (before, edited)


def test_functions_outside_the_kernels_keep_numbas_stamp(tmp_path, monkeypatch):
    (tmp_path / "user_module.py").write_text(
        "import numba\n\n@numba.njit(cache=True)\ndef twice(x):\n    return 2 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("user_module")
    try:
        assert module.twice(3) == 6
        locator = module.twice._cache._impl.locator
        assert not isinstance(locator, cache.LOCATORS)
        assert isinstance(locator, (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator))
    finally:
        sys.modules.pop("user_module", None)


@pytest.mark.parametrize("locator", cache.LOCATORS)
def test_locators_come_first_once(locator):
    classes = caching.CacheImpl._locator_classes
    assert classes.count(locator) == 1 and classes.index(locator) < 2
