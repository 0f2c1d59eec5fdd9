"""The Burgers kernel's per-scheme compiled loops: one per (flux, limiter) pair, kept apart in
Numba's on-disk cache and reused by a later process; `advance` dispatches to them."""

import os
import subprocess
import sys
import textwrap

import numba as nb
import numpy as np
import pytest

from fastdds.kernels.cpu import burgers as K

SCRIPT = textwrap.dedent("""
    import numpy as np
    from fastdds.kernels.cpu import burgers as K
    n = 16
    u = np.sin(2 * np.pi * np.arange(n) / n)
    out = np.empty(n)
    coefs = np.array([0.1, 0.01, 1.0, 0.5, 0.0, 0.0, 0.0, 2.0])
    K.advance(u, out, 3, 2, 0, np.array([0.0]), np.array([1.0]), 0, coefs, 1, np.empty((3, n + 4)))
    stats = K.scheme_kernel(2, 0).stats
    print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()), repr(out.tolist()))
""")


def test_one_kernel_per_pair():
    assert K.scheme_kernel(1, 1) is K.scheme_kernel(1, 1)
    assert K.scheme_kernel(1, 1) is not K.scheme_kernel(1, 2)
    assert K.scheme_kernel(np.int64(0), 2) is K.scheme_kernel(0, 2)
    with pytest.raises(ValueError, match=r"unknown \(flux, limiter\) codes \(5, 0\)"):
        K.scheme_kernel(5, 0)
    with pytest.raises(ValueError, match=r"unknown \(flux, limiter\) codes \(0, 3\)"):
        K.scheme_kernel(0, 3)


def test_advance_runs_the_pairs_kernel(rng):
    n = 40
    u = rng.standard_normal(n)
    coefs = np.array([0.2, 0.05, 3.0, 0.5, 0.0, 0.0, 0.0, 2.0])
    rk_a, rk_b = np.array([0.0, 0.5]), np.array([1.0, 0.5])
    a, b = np.empty(n), np.empty(n)
    assert K.advance(u, a, 5, 1, 2, rk_a, rk_b, 2, coefs, 1, np.empty((3, n + 4))) == -1
    assert K.scheme_kernel(1, 2)(u, b, 5, rk_a, rk_b, 2, coefs, 1, np.empty((3, n + 4))) == -1
    np.testing.assert_array_equal(a, b)
    c = np.empty(n)  # another pair is another scheme
    K.advance(u, c, 5, 0, 2, rk_a, rk_b, 2, coefs, 1, np.empty((3, n + 4)))
    assert np.abs(c - a).max() > 1e-6


def test_a_second_process_loads_the_pair_from_the_disk_cache(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
            for _ in range(2)]
    (hits1, misses1, out1), (hits2, misses2, out2) = (r.stdout.split(maxsplit=2) for r in runs)
    assert (hits1, misses1) == ("0", "1")  # compiled in the first process
    assert (hits2, misses2) == ("1", "0")  # loaded, not compiled, in the second
    assert out1 == out2


def test_prepare_compiles_the_pair_and_is_free_afterwards():
    K.prepare(3, 1, np.float32)
    sigs = K.scheme_kernel(3, 1).signatures
    assert len(sigs) == 1 and "float32" in str(sigs[0])
    assert K.prepare(3, 1, np.float32) < 0.05


@pytest.mark.parametrize("pair", [(1, 0), (4, 2)])
def test_llvm_inlines_the_scalar_helpers_into_the_pairs_loop(pair):
    """The flux, limiter and node helpers are ordinary compiled functions (not inlined at Numba's
    IR level, which cost most of the compile); the loops vectorise only if LLVM inlines them, so
    the pair's machine code must not call them."""
    K.prepare(*pair, np.float32)
    kernel = K.scheme_kernel(*pair)
    options = {k: v for k, v in kernel.targetoptions.items() if k not in ("cache", "nopython")}
    fresh = nb.njit(**options)(kernel.py_func)  # compiled here: cached code cannot be inspected
    fresh.compile(kernel.signatures[0])
    asm = next(iter(fresh.inspect_asm().values()))
    assert "vfmadd" in asm or "vmul" in asm  # machine code, not the placeholder of cached code
    names = ("burgers5_flux", "burgers6_limit", "burgers12_node_update", "burgers4_max",
             "burgers4_min", "burgers6_stage", "burgers5_loop", "burgers10_node_loop")
    mentions = [line for line in asm.splitlines() if any(n in line for n in names)]
    assert not [line for line in mentions if "NumbaEnv" not in line]  # called, not inlined
