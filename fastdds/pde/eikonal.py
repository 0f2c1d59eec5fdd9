"""Eikonal solvers: fast sweeping for |grad u| = 1 / speed on 1-D to 12-D grids, and the
explicit time-dependent 1-D Hamilton-Jacobi form -u_t + |u_x| - 1 = 0.

The fast-sweeping API is scikit-fmm's, with its signatures, defaults and semantics:
``distance(phi, dx=1.0, self_test=False, order=2, narrow=0.0, periodic=False)`` returns the
signed distance to the zero contour of phi, ``travel_time(phi, speed, ...)`` the travel time
from it, ``extension_velocities(phi, speed, ..., ext_mask=None, ...)`` the distance and the
speed extended off the contour. The interface cells are set by linear interpolation along each
axis at both orders, as scikit-fmm does (at order 2 the axes without a sign change add their
phi differences, which changes nothing for a sign function and makes a smooth phi second
order); a numpy masked array marks obstacles (masked cells are
never entered and come back masked), and so do speeds below machine epsilon. fastdds extras are
keyword-only: a scalar speed, ``source_radius`` (exact values in a disc round isolated zeros of
phi, the point-source correction), ``tol``, ``max_sweeps``, ``return_info``. ``arrival_time``
starts from a mask of source cells instead of a level set. The interface band is NumPy
(``fastdds.pde.interface_band``, any number of axes). The compiled cores: 1-D to 3-D grids
run on the padded 2-D / 3-D kernels of ``fastdds.kernels.cpu.eikonal`` (GPU twins for the sweeps:
a CuPy phi sweeps on its device), 4-D to 12-D grids on the N-D kernels of
``fastdds.kernels.cpu.eikonal_nd`` (flat arrays with per-axis strides; the Godunov update sorts
the axes' upwind values and adds axes while the root stays above the next one; the 2^d
orderings, axis a reversed when bit a of the ordering is set), which give the same answers to
round-off.

Fast sweeping (Zhao 2005) is Gauss-Seidel: each cell update reads neighbours already updated in
the same sweep, in an order that alternates over the 2^d grid orderings. It is therefore NOT a
chain of layers y = P x + sum Q sigma(R x + b) (a layer maps the whole previous state at once).
The explicit 1-D schemes are: ``hj1d_chain`` builds them as chains, ``hj1d_solve`` runs the
fused kernel, both from the coefficients of ``hj1d_coefficients``.
"""

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .. import backend
from ..layers import Chain, Layer
from ..operators import Banded, Identity
from .interface_band import interface_band

_PAD = 2
_EPS = np.finfo(np.float64).eps  # scikit-fmm masks speeds below this
_MAX_DIM = 12  # as scikit-fmm
_ND_FROM = 4  # grids with this many axes or more take the N-D kernels (tests lower it to force them)
_CHUNK_CELLS = 1 << 24  # cell visits per kernel call, a fraction of a second: Ctrl-C acts between calls


@dataclass
class SweepInfo:
    """What a fast-sweeping solve did.

    Attributes
    ----------
    sweeps : int
        Sweeps done (one sweep = one grid ordering).
    converged : bool
    band : int
        Cells fixed at the start (sources or interface band).
    """

    sweeps: int
    converged: bool
    band: int


def _host(group="eikonal"):
    """The CPU kernels of a group: the extension and finishing steps run on the host, whatever
    device the sweeps use."""
    return backend.kernels(group, like=np.empty(0))


def _float_array(name, a):
    """A float32/float64 ndarray (other numbers become float64) of a numpy (masked) array."""
    a = np.ma.getdata(a) if np.ma.isMaskedArray(a) else np.asarray(a)
    if a.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise ValueError(f"{name} must be a 1 to 12-D array of doubles (a numeric array); got dtype {a.dtype}")
        a = a.astype(np.float64)
    return a


def _mask_of(a):
    """The mask of a masked array with masked entries, else None."""
    return np.ma.getmaskarray(a) if np.ma.isMaskedArray(a) and np.ma.is_masked(a) else None


def _check_grid(phi, dx, periodic):
    """Validate phi's shape, dx and periodic; return dx and periodic as one tuple entry per axis."""
    if not 1 <= phi.ndim <= _MAX_DIM or phi.size == 0:
        raise ValueError(f"phi must be a 1-D to {_MAX_DIM}-D array with cells (as scikit-fmm); got shape {phi.shape}")
    dxs = np.atleast_1d(np.asarray(dx, dtype=np.float64))
    if dxs.ndim != 1 or dxs.size not in (1, phi.ndim) or (np.ndim(dx) > 0 and dxs.size != phi.ndim):
        raise ValueError(f"dx must be of length len(phi.shape) = {phi.ndim} (or a scalar); got {dx!r}")
    if not (np.all(np.isfinite(dxs)) and np.all(dxs > 0)):
        raise ValueError(f"dx must be greater than zero (and finite); got {dx!r}")
    if isinstance(periodic, (bool, np.bool_)):
        pers = (bool(periodic),) * phi.ndim
    elif hasattr(periodic, "__len__") and len(periodic) == phi.ndim:
        pers = tuple(bool(v) for v in periodic)
    else:
        raise ValueError(f'parameter "periodic" must be of type bool or sequence of type bool of length '
                         f'phi.ndim ({phi.ndim}); got {periodic!r}')
    return tuple(float(h) for h in np.broadcast_to(dxs, (phi.ndim,))), pers


def _check_settings(order, narrow, self_test, tol, max_sweeps):
    if order not in (1, 2) or isinstance(order, bool):
        raise ValueError(f"order must be 1 or 2; got {order!r}")
    if not (np.isfinite(narrow) and narrow >= 0):
        raise ValueError(f'parameter "narrow" must be greater than or equal to zero (0: no narrow band); '
                         f'got {narrow!r}')
    if self_test not in (0, 1):
        raise ValueError(f"self_test must be 0 or 1; got {self_test!r}")
    if tol is not None and not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be >= 0; got {tol!r}")
    if int(max_sweeps) < 1:
        raise ValueError(f"max_sweeps must be >= 1; got {max_sweeps!r}")


class _Grid:
    """The kernel layout of an array shape.

    Below `_ND_FROM` axes the 2-D / 3-D kernels run on arrays padded by `_PAD` cells per side
    (1-D grids as 2-D with one row); from `_ND_FROM` axes on (``nd``) the N-D kernels run on the
    flat unpadded array (``pad`` = 0, no ghost cells: they wrap periodic axes themselves).
    ``kshape``, ``kdx``, ``kper``: shape, spacing and periodic flags of the kernel grid;
    ``pshape``: padded shape; ``inner``: the slices of the cells in a padded array; ``ghost``,
    ``src``, ``reader``: the periodic copy lists of the sweep kernels; ``group``: the kernel
    group ("eikonal_nd" for the N-D kernels).
    """

    def __init__(self, shape, dxs, pers):
        self.shape = tuple(shape)
        self.nd = len(shape) >= _ND_FROM
        self.group = "eikonal_nd" if self.nd else "eikonal"
        lift = len(shape) == 1 and not self.nd
        self.pad = 0 if self.nd else _PAD
        self.kshape = (1,) + self.shape if lift else self.shape
        self.kdx = (1.0,) + dxs if lift else dxs
        self.kper = (False,) + pers if lift else pers
        self.pshape = tuple(n + 2 * self.pad for n in self.kshape)
        self.inner = tuple(slice(self.pad, n + self.pad) for n in self.kshape)
        if self.nd:
            self.ghost = self.src = self.reader = np.empty(0, np.int64)
        else:
            self.ghost, self.src, self.reader = self._wrap_lists()

    def nd_args(self):
        """shape, flat strides and periodic flags of an N-D grid as the N-D kernels take them."""
        strides = np.cumprod((self.shape[1:] + (1,))[::-1])[::-1]
        return (np.array(self.shape, np.int64), np.ascontiguousarray(strides, dtype=np.int64),
                np.array(self.kper, np.bool_))

    def alias(self):
        """For every padded flat index the cell it holds: itself, or the mirrored cell of a ghost."""
        out = np.arange(math.prod(self.pshape), dtype=np.int64)
        out[self.ghost] = self.src
        return out

    def _layer(self, ax, v):
        """Padded flat indices of the cells at padded index v along axis ax (interior on the others)."""
        axes = [np.array([v]) if a == ax else np.arange(_PAD, n + _PAD) for a, n in enumerate(self.kshape)]
        return np.ravel_multi_index(np.meshgrid(*axes, indexing="ij"), self.pshape).ravel()

    def _wrap_lists(self):
        entries = []
        for ax, (n, per) in enumerate(zip(self.kshape, self.kper)):
            if not per or n < 2:
                continue
            for g in (0, 1, n + 2, n + 3):
                s = g + n if g < _PAD else g - n
                for r in range(max(_PAD, g - 2), min(n + 1, g + 2) + 1):
                    if r != g:
                        entries.append((self._layer(ax, g), self._layer(ax, s), self._layer(ax, r)))
        if not entries:
            return (np.empty(0, np.int64),) * 3
        g, s, r = (np.concatenate([e[k] for e in entries]) for k in range(3))
        by_ghost = np.argsort(g, kind="stable")
        return g[by_ghost], s[by_ghost], r[by_ghost]

    def kernel(self, a):
        """An unpadded array in the kernel shape."""
        return a.reshape(self.kshape)

    def view3(self, a):
        """A kernel-shaped (padded or not) array as 3-D, for the kernels that take 3-D only."""
        return a.reshape((1,) * (3 - a.ndim) + a.shape)

    def padded(self, a, fill):
        """a (of `shape`) padded, the ghost cells of periodic axes holding their mirrored cells."""
        out = np.full(self.pshape, fill, dtype=a.dtype)
        out[self.inner] = self.kernel(a)
        out.reshape(-1)[self.ghost] = out.reshape(-1)[self.src]
        return out

    def unpad(self, a):
        return a[self.inner].reshape(self.shape)


def _speed_field(speed, shape, obstacles, extension=False):
    """speed as an array of phi's shape (None for a scalar) and the cells it masks.

    For travel times speeds below machine epsilon (zero, tiny, negative) mask their cells, as
    scikit-fmm does; extension values may take any finite value.
    """
    if np.ndim(speed) == 0 and not np.ma.isMaskedArray(speed):
        s = float(speed)
        if not (np.isfinite(s) and (extension or s >= _EPS)):
            raise ValueError(f"a scalar speed must be finite{'' if extension else ' and positive'}; got {s}")
        return None, obstacles
    sp = _float_array("speed", speed)
    if sp.shape != shape:
        raise ValueError(f"phi and speed must have the same shape; speed has shape {sp.shape}, phi {shape}")
    masks = [m for m in (obstacles, _mask_of(speed)) if m is not None]
    if not extension:
        masks.append(sp < _EPS)
    hidden = np.logical_or.reduce(masks) if masks else np.zeros(shape, bool)
    bad = np.isnan(sp) & ~hidden if not extension else ~np.isfinite(sp) & ~hidden
    if bad.any():
        raise ValueError(f"speed is NaN{'' if not extension else ' or inf'} at {int(bad.sum())} unmasked cells; "
                         f"mask them (numpy masked array) to make them obstacles")
    return sp, (hidden if hidden.any() else None)


def _slowness(grid, speed, dtype, obstacles):
    """Padded slowness 1 / speed of a speed array (1 on obstacles)."""
    f = np.ones(grid.shape, dtype=dtype)
    free = np.ones(grid.shape, bool) if obstacles is None else ~obstacles
    np.divide(1.0, speed, out=f, where=free, casting="unsafe")
    return grid.padded(f, 1.0)


def _start(p, obstacles, grid, gradient, speed=None, ext_mask=None):
    """Padded start (u, state, side, band, fext) of a level set p (fext None unless speed given)."""
    bad = ~np.isfinite(p) if obstacles is None else ~np.isfinite(p) & ~obstacles
    if bad.any():
        raise ValueError(f"phi contains NaN or inf at {int(bad.sum())} unmasked cells (first at "
                         f"{tuple(int(i) for i in np.argwhere(bad)[0])}); mask them or fix phi")
    if speed is not None:
        speed = np.broadcast_to(np.asarray(speed, dtype=p.dtype), p.shape)
    kernel = lambda a: None if a is None else grid.kernel(np.asarray(a))  # noqa: E731
    ub, fixed, sb, fb, band = interface_band(grid.kernel(p), grid.kdx, grid.kper, gradient,
                                             None if obstacles is None else kernel(~obstacles), kernel(speed),
                                             kernel(ext_mask))
    if band == 0:
        raise ValueError("the array phi contains no zero contour (no zero level set): it never changes sign "
                         "and is nowhere 0 outside masked cells; give a level set that is negative inside the "
                         "source and positive outside")
    fixed_code = _host().FIXED
    u = np.full(grid.pshape, np.inf, dtype=p.dtype)
    state = np.full(grid.pshape, fixed_code, dtype=np.uint8)
    side = np.zeros(grid.pshape, dtype=np.int8)
    u[grid.inner], side[grid.inner] = ub, sb
    state[grid.inner] = np.where(fixed, fixed_code, 1)
    fext = None
    if speed is not None:
        fext = np.zeros(grid.pshape, dtype=p.dtype)
        fext[grid.inner] = fb
    side.reshape(-1)[grid.ghost] = side.reshape(-1)[grid.src]
    return u, state, side, int(band), fext


def _point_sources(p, obstacles, grid, u, state, radius, slowness):
    """Fix the cells within `radius` of each isolated zero of p at their exact distance (times the
    slowness at the zero): the point-source correction. Returns the number of cells fixed."""
    if radius == 0:
        return 0
    kern = _host()
    pk = grid.kernel(p)
    free = np.ones(grid.kshape, bool) if obstacles is None else ~grid.kernel(obstacles)
    padded_p = np.pad(np.where(free, pk, np.nan), 1, constant_values=np.nan)
    zeros = np.argwhere((pk == 0) & free)
    fixed, g = 0, grid.pad
    for z in zeros:
        c = tuple(int(i) + g for i in z)
        z1 = tuple(int(i) + 1 for i in z)
        around = [padded_p[z1[:a] + (z1[a] + o,) + z1[a + 1:]] for a in range(pk.ndim) for o in (-1, 1)]
        around = np.array([v for v in around if np.isfinite(v)])
        if around.size == 0 or np.any(around == 0) or not (np.all(around > 0) or np.all(around < 0)):
            continue
        reach = [int(radius / h) for h in grid.kdx]
        box = tuple(slice(max(g, ci - r), min(n + g, ci + r + 1)) for ci, r, n in zip(c, reach, grid.kshape))
        axes = np.meshgrid(*[(np.arange(b.start, b.stop) - ci) * h for b, ci, h in zip(box, c, grid.kdx)],
                           indexing="ij")
        r = np.sqrt(sum(x * x for x in axes))
        f0 = 1.0 if slowness is None else slowness[c]
        disc = (r <= radius * (1 + 1e-12)) & (state[box] != kern.FIXED) | (r == 0)
        disc &= free[tuple(slice(b.start - g, b.stop - g) for b in box)]
        sub = u[box]
        sub[disc] = np.minimum(sub[disc], r[disc] * f0)
        state[box][disc] = kern.FIXED
        fixed += int(disc.sum())
    return fixed


def _strided(f):
    """f as a read-only strided view, so that the sweep kernels have one compiled form per dtype
    (4-7 s of compile each): a broadcast constant slowness already is one; a slowness field is
    copied into a buffer one cell wider along the last axis (a C-contiguous field would be a
    second form)."""
    if not f.flags.c_contiguous:
        return f
    view = np.empty(f.shape[:-1] + (f.shape[-1] + 1,), f.dtype)[..., :-1]
    view[...] = f
    view.flags.writeable = False
    return view


def _sweeper(grid, side, f, order, cap, like):
    """run(u, state, tol, first, stop) -> (sweeps, converged): the sweep kernel of the grid's
    layout on the device of `like` (a CuPy array: the GPU twins, on device copies of side and f);
    u and state must live there too."""
    kern = backend.kernels(grid.group, like=like)
    put = backend.array_module(like).asarray
    w = [1.0 / h**2 for h in grid.kdx]
    if grid.nd:
        shape, strides, pers = grid.nd_args()
        flat_f, flat_w = np.ascontiguousarray(f).reshape(-1), np.array(w)
        flat_side = side.reshape(-1)

        def run(v, active, t, first, stop):
            return kern.sweep_nd(v.reshape(-1), active.reshape(-1), flat_side, flat_f, shape, strides, pers,
                                 flat_w, int(order), t, cap, stop, first)
        return run
    sweep = kern.sweep2d if len(grid.kshape) == 2 else kern.sweep3d
    dside, df, wraps = put(side), put(_strided(f)), [put(a) for a in (grid.ghost, grid.src, grid.reader)]

    def run(v, active, t, first, stop):
        return sweep(v, active, dside, df, *w, int(order), t, cap, stop, *wraps, first)
    return run


def _sweep(grid, start, f, order, narrow, tol, max_sweeps, self_test, like, callback):
    """Run the sweeps of the given order on the padded start (u changed in place) on the device of
    `like`, in calls of at most `_CHUNK_CELLS` cell visits (so that Ctrl-C and `callback` act
    between them); return SweepInfo."""
    u, state, side, band = start
    cap = float(narrow) if narrow > 0 else np.inf
    if tol is not None:
        tol = float(tol)
    elif order == 1:
        tol = 0.0
    else:
        tol = (1e-10 if u.dtype == np.float64 else 1e-5) * min(grid.kdx[-len(grid.shape):])
    if f is None:
        f = np.broadcast_to(np.ones((), dtype=u.dtype), grid.pshape)
    run = _sweeper(grid, side, f, order, cap, like)
    put = backend.array_module(like).asarray
    du, dstate = put(u), put(state)
    chunk = max(1, _CHUNK_CELLS // u.size)
    sweeps, converged = 0, False
    while sweeps < max_sweeps and not converged:
        sweeps, converged = run(du, dstate, tol, sweeps, min(sweeps + chunk, int(max_sweeps)))
        if callback is not None:
            callback(sweeps, int(max_sweeps))
    if du is not u:
        u[...], state[...] = backend.to_numpy(du), backend.to_numpy(dstate)
    if not converged:
        warnings.warn(f"fast sweeping stopped after max_sweeps = {max_sweeps} sweeps without converging; "
                      f"raise max_sweeps (mazes of obstacles need more)", RuntimeWarning, stacklevel=3)
    if self_test:
        check = u.copy()
        active = np.where(state >= _host().FIXED, state, np.uint8(1))
        dcheck = put(check)
        if not run(dcheck, put(active), 10 * tol, 0, 1)[1]:
            with np.errstate(invalid="ignore"):
                moved = float(np.nanmax(np.abs(backend.to_numpy(dcheck) - u)))  # inf - inf (unreached) is NaN
            raise RuntimeError(f"self_test failed: one more sweep moves the result by {moved:.3g} (> {10 * tol:g})")
    return SweepInfo(sweeps, converged, band)


def _finish(grid, u, side, obstacles, signed):
    """The unpadded result with the sign of side applied; a masked array where cells are hidden
    (obstacles, outside the narrow band, unreachable), a plain ndarray when none is."""
    uu, ss = grid.unpad(u), grid.unpad(side)
    out = np.empty(grid.kshape, dtype=u.dtype)
    view3 = (lambda a: a.reshape(1, 1, -1)) if grid.nd else grid.view3
    unreached = _host().finish(view3(np.ascontiguousarray(grid.kernel(uu))),
                               view3(np.ascontiguousarray(grid.kernel(ss))), signed, view3(out))
    out = out.reshape(grid.shape)
    if obstacles is None and unreached == 0:
        return out
    hidden = ~np.isfinite(uu) if obstacles is None else ~np.isfinite(uu) | obstacles
    out[hidden] = 0.0
    return np.ma.MaskedArray(out, mask=hidden)


def _on_host(a):
    """A NumPy copy of a CuPy array; anything else as it is."""
    return backend.to_numpy(a) if backend.is_gpu_array(a) else a


def _on_device(out, like):
    """A plain result on like's device (CuPy for a CuPy `like`); masked arrays stay NumPy's."""
    if not backend.is_gpu_array(like) or np.ma.isMaskedArray(out):
        return out
    return backend.array_module(like).asarray(out)


def _level_set(phi, speed, dx, self_test, order, narrow, periodic, ext_mask, interface, source_radius, tol,
               max_sweeps, mode, callback):
    """The shared body of distance, travel_time and extension_velocities."""
    _check_settings(order, narrow, self_test, tol, max_sweeps)
    like = phi
    phi, speed, ext_mask = _on_host(phi), _on_host(speed), _on_host(ext_mask)
    if interface not in (None, "linear", "gradient"):
        raise ValueError(f'interface must be None, "linear" or "gradient"; got {interface!r}')
    gradient = (interface or ("gradient" if order == 2 else "linear")) == "gradient"
    p = _float_array("phi", phi)
    dxs, pers = _check_grid(p, dx, periodic)
    if not (np.isfinite(source_radius) and source_radius >= 0):
        raise ValueError(f"source_radius must be >= 0 (0: no point-source correction); got {source_radius!r}")
    grid = _Grid(p.shape, dxs, pers)
    obstacles = _mask_of(phi)
    sp = None
    if mode != "distance":
        sp, obstacles = _speed_field(speed, p.shape, obstacles, extension=mode == "extension")
    em = None
    if ext_mask is not None:
        em = np.asarray(ext_mask, dtype=bool)
        if em.shape != p.shape:
            raise ValueError(f"phi and ext_mask must have the same shape; ext_mask has shape {em.shape}, phi {p.shape}")
    ext = None if mode != "extension" else (speed if sp is None else sp)
    u, state, side, band, fext = _start(p, obstacles, grid, gradient, ext, em)
    f = None
    if mode == "travel_time":
        f = (np.broadcast_to(np.asarray(1.0 / float(speed), dtype=p.dtype), grid.pshape) if sp is None
             else _slowness(grid, sp, p.dtype, obstacles))
        u *= f  # band distances to band times (inf stays inf)
    band += _point_sources(p, obstacles, grid, u, state, float(source_radius), f)
    info = _sweep(grid, (u, state, side, band), f, order, narrow, tol, max_sweeps, self_test, like, callback)
    out = _finish(grid, u, side, obstacles, signed=mode != "travel_time")
    if mode != "extension":
        return _on_device(out, like), info
    cells = np.flatnonzero((state.reshape(-1) < _host().FIXED) & np.isfinite(u.reshape(-1)))
    cells = cells[np.argsort(u.reshape(-1)[cells], kind="stable")]
    weights = np.array([1.0 / h**2 for h in grid.kdx])
    if grid.nd:
        shape, strides, pers = grid.nd_args()
        _host(grid.group).extend_nd(u.reshape(-1), fext.reshape(-1), cells, shape, strides, weights, pers)
    else:
        strides = np.array([s // u.itemsize for s in u.strides], dtype=np.int64)
        _host().extend(u.reshape(-1), fext.reshape(-1), cells, strides, weights, grid.alias())
    fe = grid.unpad(fext).copy()
    if np.ma.isMaskedArray(out):
        fe[out.mask] = 0.0
        fe = np.ma.MaskedArray(fe, mask=out.mask.copy())
    return (_on_device(out, like), _on_device(fe, like)), info


def distance(phi, dx=1.0, self_test=False, order=2, narrow=0.0, periodic=False, *, interface=None, source_radius=0.0,
             tol=None, max_sweeps=500, return_info=False, callback=None):
    """Signed distance from the zero contour of phi, by fast sweeping (scikit-fmm's signature).

    Parameters
    ----------
    phi : array_like or numpy masked array, 1-D to 12-D, float32 or float64 (others become float64)
        Level set; its zero contour is the interface and the result takes its sign. Masked cells
        are obstacles: paths go around them and they come back masked.
    dx : float or sequence of float
        Grid spacing, one value or one per axis (units of length).
    self_test : bool
        After the solve, run one more full sweep and raise RuntimeError if it moves any cell by
        more than 10 tol (the result must be the fixed point of the discrete equations).
    order : {1, 2}
        1: first-order Godunov upwind update. 2 (default, as scikit-fmm): second-order one-sided
        differences where the upwind cells allow (the next cell read with its signed value, as
        scikit-fmm does).
    narrow : float
        When > 0, only cells within this distance are computed; the others come back masked.
    periodic : bool or sequence of bool (one per axis)
        Periodic axes: the grid wraps round (the end cells are neighbours).
    interface : {None, "linear", "gradient"}, keyword-only
        How the cells beside the zero contour are set. "linear": scikit-fmm's linear
        interpolation along each axis, the axis distances combined as 1 / d^2 = sum 1 / d_k^2
        (first order for a curved smooth phi). "gradient": the same plus, for the axes without
        a sign change, the central difference of phi, i.e. d = |phi| / |grad phi| with one-sided
        differences towards the crossings; second order for smooth phi and identical to
        "linear" for a sign function (phi = +-1). None (default): "gradient" at order 2,
        "linear" at order 1; pass "linear" for scikit-fmm's numbers on smooth phi at order 2.
    source_radius : float, keyword-only
        Point-source correction: around each isolated zero of phi (a node with phi == 0 whose
        neighbours all have one sign) the cells within this distance are set to their exact
        distance, which removes the O(h log h) error of a one-node source (0: off; the disc does
        not wrap round periodic edges).
    tol : float, keyword-only
        A sweep with no change above tol ends the solve (default 0 for order 1; for order 2,
        1e-10 * dx in float64 and 1e-5 * dx in float32).
    max_sweeps : int, keyword-only
        Most sweeps; a RuntimeWarning says when it was reached.
    return_info : bool, keyword-only
        Also return a `SweepInfo`.
    callback : callable(sweeps, max_sweeps), keyword-only
        Called between kernel calls (every sweep on grids above 16 M cells, about every
        16 M / size sweeps below), e.g. to show progress; Ctrl-C also acts there.

    Returns
    -------
    d : ndarray of phi's shape, float64 (float32 for float32 phi); a masked array where
        obstacles, the narrow band or unreachable cells hide cells. Units of dx. For a CuPy
        phi (1-D to 3-D) the sweeps run on its GPU and d is a CuPy array (a NumPy masked array
        where cells are hidden: CuPy has no masked arrays); the interface band is set on the host.
    info : SweepInfo, when return_info.

    Raises
    ------
    ValueError
        Bad shape, dx <= 0, NaN in phi, no zero contour, bad order, narrow or periodic.
    """
    out, info = _level_set(phi, None, dx, self_test, order, narrow, periodic, None, interface, source_radius, tol,
                           max_sweeps, "distance", callback)
    return (out, info) if return_info else out


def travel_time(phi, speed, dx=1.0, self_test=False, order=2, narrow=0.0, periodic=False, *, interface=None,
                source_radius=0.0, tol=None, max_sweeps=500, return_info=False, callback=None):
    """Travel time from the zero contour of phi with a speed field: |grad T| = 1 / speed.

    Parameters
    ----------
    phi : array_like or masked array, 1-D to 12-D
        Level set as in `distance`.
    speed : array_like (or masked array) of phi's shape, or a float (fastdds extension)
        Speed (units of length per unit time). Cells with speed below machine epsilon (zero,
        tiny or negative) are masked, as scikit-fmm does; masked cells are obstacles.
    dx, self_test, order, narrow, periodic :
        As `distance`; narrow is in units of time here.
    interface, source_radius, tol, max_sweeps, return_info, callback : keyword-only, as
        `distance` (the disc takes the slowness of its centre).

    Returns
    -------
    T : ndarray of phi's shape, >= 0 on both sides (as scikit-fmm); masked where `distance`
        masks and where speed masks.
    info : SweepInfo, when return_info.
    """
    out, info = _level_set(phi, speed, dx, self_test, order, narrow, periodic, None, interface, source_radius, tol,
                           max_sweeps, "travel_time", callback)
    return (out, info) if return_info else out


def extension_velocities(phi, speed, dx=1.0, self_test=False, order=2, ext_mask=None, narrow=0.0, periodic=False,
                         *, interface=None, tol=None, max_sweeps=500, return_info=False, callback=None):
    """Signed distance and the speed extended off the zero contour: grad f_ext . grad d = 0.

    The band cells take the speed interpolated to the contour (cells in ext_mask do not count);
    every other cell takes the upwind average of its neighbours' values weighted as in
    Adalsteinsson and Sethian (as scikit-fmm), computed in one pass in increasing |d|.

    Parameters
    ----------
    phi : array_like or masked array, 1-D to 12-D
    speed : array_like of phi's shape (or a float), any finite values
    dx, self_test, order, narrow, periodic : as `distance`.
    ext_mask : bool array_like of phi's shape, optional
        Cells whose speed is not used for the values at the contour.
    interface, tol, max_sweeps, return_info, callback : keyword-only, as `distance`.

    Returns
    -------
    (d, f_ext) : two arrays of phi's shape (masked arrays where `distance` masks)
    info : SweepInfo, when return_info.
    """
    out, info = _level_set(phi, speed, dx, self_test, order, narrow, periodic, ext_mask, interface, 0.0, tol,
                           max_sweeps, "extension", callback)
    return (out, info) if return_info else out


def arrival_time(sources, speed=1.0, dx=1.0, order=2, values=None, obstacles=None, periodic=False, *, tol=None,
                 max_sweeps=500, return_info=False, callback=None):
    """First-arrival time from a set of source cells: |grad u| = 1 / speed, u = values on them.

    Parameters
    ----------
    sources : bool ndarray, 1-D to 12-D
        True at the source cells (at least one).
    speed : float or ndarray of sources' shape
        Speed; cells below machine epsilon are obstacles (speed 1 gives the distance).
    dx : float or sequence of float
    order : {1, 2}
    values : ndarray of sources' shape, optional
        u on the source cells (>= 0, finite), default 0. Giving the exact values on a disc of
        fixed radius around a point source removes the O(h log h) error of a one-cell source.
    obstacles : bool ndarray of sources' shape, optional
        Cells that paths may not enter (masked in the result).
    periodic : bool or sequence of bool
    tol, max_sweeps, return_info, callback : as `distance`.

    Returns
    -------
    u : ndarray, float64 (float32 when values or speed is a float32 array); a masked array
        when there are obstacles or unreachable cells. On sources' device, as `distance`.
    info : SweepInfo, when return_info.
    """
    _check_settings(order, 0.0, False, tol, max_sweeps)
    like = sources
    sources, speed, values, obstacles = (_on_host(a) for a in (sources, speed, values, obstacles))
    src = np.asarray(sources)
    if src.dtype != bool:
        raise ValueError(f"sources must be a boolean mask; got dtype {src.dtype}")
    dxs, pers = _check_grid(src, dx, periodic)
    if not src.any():
        raise ValueError("sources is empty; mark at least one source cell True")
    f32 = [a for a in (speed, values) if isinstance(a, np.ndarray) and a.dtype == np.float32]
    dtype = np.float32 if f32 else np.float64
    v = np.zeros(src.shape, dtype=dtype)
    if values is not None:
        vals = _float_array("values", values)
        if vals.shape != src.shape or not np.all(np.isfinite(vals[src]) & (vals[src] >= 0)):
            raise ValueError(f"values must have the sources' shape {src.shape} and be finite and >= 0 on them")
        v[...] = vals
    blocked = None
    if obstacles is not None:
        blocked = np.asarray(obstacles, dtype=bool)
        if blocked.shape != src.shape:
            raise ValueError(f"obstacles has shape {blocked.shape} but sources {src.shape}")
    sp, blocked = _speed_field(speed, src.shape, blocked)
    if blocked is not None:
        blocked = blocked & ~src
        blocked = blocked if blocked.any() else None
    grid = _Grid(src.shape, dxs, pers)
    kern = _host()
    free_src = src if blocked is None else src & ~blocked
    u = grid.padded(np.where(free_src, v, np.inf).astype(dtype), np.inf)
    stop = src if blocked is None else src | blocked
    state = grid.padded(np.where(stop, kern.FIXED, 1).astype(np.uint8), kern.FIXED)
    state.reshape(-1)[grid.ghost] = kern.FIXED
    side = grid.padded(np.ones(src.shape, dtype=np.int8), 0)
    f = (np.broadcast_to(np.asarray(1.0 / float(speed), dtype=dtype), grid.pshape) if sp is None
         else _slowness(grid, sp, dtype, blocked))
    info = _sweep(grid, (u, state, side, int(src.sum())), f, order, 0.0, tol, max_sweeps, False, like, callback)
    out = _on_device(_finish(grid, u, side, blocked, signed=False), like)
    return (out, info) if return_info else out


# ---------------------------------------------------------------------------------------------
# Time-dependent 1-D form: -u_t + |u_x| - 1 = 0 on [-1, 1] x [0, 1], u(1, x) = 0, u(t, +-1) = 0.
# In tau = 1 - t: u_tau + H(u_x) = 0 with H(p) = |p| - 1, u(tau = 0) = 0, so u_tau = 1 - |u_x|.

HJ1D_SCHEMES = ("lax_friedrichs", "godunov")


def hj1d_max_step(n, alpha=1.0):
    """Largest stable (monotone) step on n nodes over [-1, 1]: dt = h / alpha.

    alpha is the Lax-Friedrichs dissipation speed (>= max|H'| = 1); Godunov uses alpha = 1.
    """
    return 2.0 / (n - 1) / alpha


def hj1d_coefficients(scheme, n, dt, dtype=np.float64, alpha=1.0):
    """Coefficients shared by the fused kernel and the chain of one explicit scheme.

    One step of the interior nodes is

        u_i <- p . (u_{i-1}, u_i, u_{i+1}) - dt relu(|g (u_{i+1} - u_{i-1})| + d . (u_{i-1}, u_i, u_{i+1})) + dt

    Lax-Friedrichs: p = (c, 1 - 2c, c), c = alpha dt / (2h), g = 1 / (2h), d = 0; with the
    minimal alpha = max|H'| = 1 its numerical Hamiltonian |D0 u| + (p- - p+) / 2 = max(p-, -p+)
    differs from Godunov's only at local minima of u. Godunov for H = |p|:
    max(max(p-, 0), -min(p+, 0)) = relu(|D0 u| + (p- - p+) / 2), so p = (0, 1, 0), g = 1 / (2h),
    d = (-1/(2h), 1/h, -1/(2h)).

    Parameters
    ----------
    scheme : {"lax_friedrichs", "godunov"}
    n : int
        Nodes on [-1, 1], ends included (>= 3).
    dt : float
        Step in tau = 1 - t; at most `hj1d_max_step(n)`.
    dtype : float32 or float64
    alpha : float >= 1
        Lax-Friedrichs dissipation speed (ignored by Godunov).

    Returns
    -------
    dict with p, d (ndarray (3,), dtype), g, dt, h (float).

    Raises
    ------
    ValueError
        Unknown scheme, n < 3, or dt above the CFL limit (the message names the largest stable step).
    """
    if scheme not in HJ1D_SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {HJ1D_SCHEMES}")
    if int(n) < 3:
        raise ValueError(f"the grid needs n >= 3 nodes; got {n}")
    dtype = backend.resolve_dtype(dtype)
    if not (np.isfinite(alpha) and alpha >= 1.0):
        raise ValueError(f"alpha must be >= max|H'| = 1 for a monotone Lax-Friedrichs scheme; got {alpha}")
    alpha = float(alpha) if scheme == "lax_friedrichs" else 1.0
    h = 2.0 / (int(n) - 1)
    limit = hj1d_max_step(n, alpha)
    if not (np.isfinite(dt) and 0 < dt <= limit * (1 + 1e-12)):
        raise ValueError(f"time step dt = {dt} breaks the CFL condition alpha dt / h <= 1 (alpha = {alpha:g}) "
                         f"of the {scheme} scheme on {n} nodes; the largest stable step is {limit:.6g}")
    if scheme == "lax_friedrichs":
        c = alpha * dt / (2.0 * h)
        p, d = (c, 1.0 - 2.0 * c, c), (0.0, 0.0, 0.0)
    else:
        p, d = (0.0, 1.0, 0.0), (-1.0 / (2.0 * h), 1.0 / h, -1.0 / (2.0 * h))
    return {"p": np.array(p, dtype=dtype), "d": np.array(d, dtype=dtype), "g": 1.0 / (2.0 * h),
            "dt": float(dt), "h": h}


def hj1d_solve(n, scheme="godunov", cfl=0.9, t_end=1.0, dt=None, dtype=np.float64, alpha=1.0):
    """Step -u_t + |u_x| - 1 = 0 from u(1, x) = 0 back to t = 1 - t_end with the fused kernel.

    Parameters
    ----------
    n : int
        Nodes on [-1, 1] (ends included, held at u = 0).
    scheme : {"lax_friedrichs", "godunov"}
    cfl : float in (0, 1]
        dt = cfl h, rounded down so that whole steps reach t_end (ignored when dt is given).
    t_end : float
        Length of the time interval (1 reaches t = 0).
    dt : float, optional
        Explicit step; must not exceed the CFL limit. t_end is then rounded to whole steps.
    dtype : float32 or float64
    alpha : float >= 1
        Lax-Friedrichs dissipation speed.

    Returns
    -------
    x : ndarray (n,), float64
    u : ndarray (n,), dtype: u(1 - t_end, x)
    nsteps : int
    """
    if not (np.isfinite(t_end) and t_end > 0):
        raise ValueError(f"t_end must be positive; got {t_end}")
    if dt is None:
        if not 0 < cfl <= 1:
            raise ValueError(f"cfl must be in (0, 1]; got {cfl}")
        limit = hj1d_max_step(n, alpha if scheme == "lax_friedrichs" else 1.0)
        nsteps = max(1, math.ceil(t_end / (cfl * limit) - 1e-9))
        dt = t_end / nsteps
    else:
        nsteps = max(1, round(t_end / dt))
    c = hj1d_coefficients(scheme, n, dt, dtype, alpha)
    u = np.zeros(int(n), dtype=c["p"].dtype)
    backend.kernels("eikonal", like=u).hj1d_steps(u, nsteps, c["p"], c["g"], c["d"], c["dt"], np.empty_like(u))
    return np.linspace(-1.0, 1.0, int(n)), u, nsteps


def _rows(n, values, rows):
    """Diagonal of length n holding `values` on `rows` (a slice) and 0 elsewhere."""
    out = np.zeros(n)
    out[rows] = values
    return out


def hj1d_chain(scheme, n, dt, nsteps, dtype=np.float64, alpha=1.0):
    """The explicit scheme as a Chain of layers y = P x + sum_k Q_k sigma_k(R_k x + b_k).

    Lax-Friedrichs is one layer per step on the n nodes:
    P = I + c D2 (rows of the end nodes 0), branch Q = -dt I, sigma = abs, R = g (-1, 0, 1),
    and the constant c = dt on the interior nodes.
    Godunov needs two layers per step on the doubled state [u; w] (2n values):
    layer 1 keeps u and writes w = |g (u_{i+1} - u_{i-1})| (abs branch whose R reaches the top
    half through offsets -n -+ 1); layer 2 gives u - dt relu(w + d . u) + dt (relu branch).
    Both use the coefficients of `hj1d_coefficients`, as the fused kernel does.

    Parameters
    ----------
    scheme : {"lax_friedrichs", "godunov"}
    n : int
    dt : float
    nsteps : int
    dtype : float32 or float64
    alpha : float >= 1
        Lax-Friedrichs dissipation speed.

    Returns
    -------
    Chain : its input is u (n values) for Lax-Friedrichs, [u; 0] (2n values) for Godunov; see
        `hj1d_chain_run`.
    """
    c = hj1d_coefficients(scheme, n, dt, dtype, alpha)
    dtype, n = c["p"].dtype, int(n)
    inner = slice(1, n - 1)
    g, dt = c["g"], c["dt"]
    const = np.zeros(n, dtype=dtype)
    const[inner] = dt
    if scheme == "lax_friedrichs":
        P = Banded((-1, 0, 1), np.stack([_rows(n, v, inner) for v in c["p"]]), "zero", dtype=dtype)
        R = Banded((-1, 1), np.stack([_rows(n, -g, inner), _rows(n, g, inner)]), "zero", dtype=dtype)
        step = Layer(P, [(Identity(n, -dt, dtype), "abs", R, None)], c=const)
        return Chain([step] * int(nsteps))
    top, bottom = slice(1, n - 1), slice(n + 1, 2 * n - 1)
    N = 2 * n
    keep = Banded((0,), _rows(N, 1.0, slice(0, n))[None], "zero", dtype=dtype)
    R1 = Banded((-n - 1, -n + 1), np.stack([_rows(N, -g, bottom), _rows(N, g, bottom)]), "zero", dtype=dtype)
    first = Layer(keep, [(None, "abs", R1, None)])
    P2 = Banded((0,), _rows(N, 1.0, top)[None], "zero", dtype=dtype)
    R2 = Banded((-1, 0, 1, n), np.stack([_rows(N, v, top) for v in c["d"]] + [_rows(N, 1.0, top)]),
                "zero", dtype=dtype)
    b2 = np.concatenate([const, np.zeros(n, dtype=dtype)])
    second = Layer(P2, [(Identity(N, -dt, dtype), "relu", R2, None)], c=b2)
    return Chain([first, second] * int(nsteps))


def hj1d_chain_run(chain, u0):
    """Run a chain of `hj1d_chain` from u0 (n values); return the final u (n values)."""
    n = u0.shape[-1]
    x = u0 if chain.n_in == n else np.concatenate([u0, np.zeros_like(u0)])
    return chain(x)[:n]
