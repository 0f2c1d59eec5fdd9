"""Linear operators of the layer form y = P x + sum_k Q_k sigma_k(R_k x + b_k).

Three storage forms behind one interface: `Identity` (a scaled identity), `Banded`
(finite-difference stencils) and `Dense` (learned weights). Every operator maps states of
shape (n_in,) or (batch, n_in) to (n_out,) or (batch, n_out) and offers

    apply, apply_transpose, grad, to_dense, to_sparse, shape, dtype, params, nparams,
    flops, moments, spectrum, astype

Row moments M_k(i) = sum_j A_ij ((j - i) h)^k make stencils and weight matrices comparable:
(A u)_i ~ M_0 u + M_1 u_x + M_2/2 u_xx + ... for smooth u.
"""

import numpy as np
import scipy.sparse as sp

from . import backend, boundaries
from .fornberg import fornberg_weights, stencil_offsets
from .validation import as_out, as_state, check_finite

_DENSE_SPECTRUM_LIMIT = 20_000


class Operator:
    """Common interface; subclasses implement `_apply_into`, `_apply_transpose_into` (write the
    product of a validated (batch, n) array into out; return False only when their own pass found
    NaN or inf in the input) and `to_dense`."""

    shape = (0, 0)
    dtype = np.dtype(np.float64)

    # Subclasses whose kernel tests its input for NaN/inf in its own pass set _fused_check (the
    # public methods then skip the separate test), and those whose kernel reads neighbouring
    # entries while it writes set _separate_out (out must not overlap the input).
    _fused_check = False
    _separate_out = False

    def apply(self, x, out=None):
        """A x.

        Parameters
        ----------
        x : ndarray, shape (n_in,) or (batch, n_in), the operator's dtype
            Refused (ValueError naming the first bad index) if it holds NaN or inf.
        out : ndarray, optional
            Receives the result: shape (n_out,) or (batch, n_out) as x, the operator's dtype,
            C-contiguous; `Banded` also refuses an out that overlaps x.

        Returns
        -------
        ndarray, shape (n_out,) or (batch, n_out): `out` when given, else a new array.
        """
        return self._product("x", x, out, False)

    def apply_transpose(self, y, out=None):
        """A^T y, for y of shape (n_out,) or (batch, n_out); returns (n_in,) or (batch, n_in).
        `out` as in `apply` (shape of the result)."""
        return self._product("y", y, out, True)

    def _product(self, name, x, out, transpose):
        """Validate, run `_apply_into` / `_apply_transpose_into` into out, name a bad input entry."""
        n_out, n_in = self.shape
        if transpose:
            n_in, n_out = n_out, n_in
        x2, squeeze = as_state(name, x, n_in, self.dtype, not self._fused_check)
        shape = (n_out,) if squeeze else (x2.shape[0], n_out)
        if out is None:
            out = backend.array_module(x2).empty(shape, dtype=self.dtype)
        else:
            as_out(out, shape, self.dtype, x2, x2 if self._separate_out else None)
        into = self._apply_transpose_into if transpose else self._apply_into
        if not into(x2, out[None] if squeeze else out):
            check_finite(name, x2[0] if squeeze else x2)
        return out

    def _apply(self, x):
        """A x for a validated (batch, n_in) array, into a new array (no NaN/inf test)."""
        out = backend.array_module(x).empty((x.shape[0], self.shape[0]), dtype=self.dtype)
        self._apply_into(x, out)
        return out

    def _apply_transpose(self, y):
        """A^T y for a validated (batch, n_out) array, into a new array (no NaN/inf test)."""
        out = backend.array_module(y).empty((y.shape[0], self.shape[1]), dtype=self.dtype)
        self._apply_transpose_into(y, out)
        return out

    @property
    def params(self):
        """The trainable arrays (views, updated in place by optimisers)."""
        return []

    def grad(self, x, dy):
        """Gradients of sum(dy * A x) with respect to `params`, summed over the batch.

        Parameters
        ----------
        x : ndarray, shape (batch, n_in)
        dy : ndarray, shape (batch, n_out)

        Returns
        -------
        list of ndarrays shaped like `params`.
        """
        return []

    @property
    def nparams(self):
        """Number of stored coefficients (trainable parameters)."""
        return sum(int(p.size) for p in self.params)

    def flops(self, batch=1):
        """Floating-point operations of one `apply` on `batch` states (multiply + add = 2)."""
        raise NotImplementedError

    def to_sparse(self):
        """scipy.sparse CSR matrix (float, on the host)."""
        return sp.csr_matrix(backend.to_numpy(self.to_dense()))

    def moments(self, h=1.0, kmax=2):
        """Row moments M_k(i) = sum_j A_ij ((j - i) h)^k.

        Parameters
        ----------
        h : float
            Grid (or neuron) spacing, in the units of x.
        kmax : int
            Highest moment.

        Returns
        -------
        ndarray, shape (kmax + 1, n_out), float64 (host).
        """
        a = backend.to_numpy(self.to_dense()).astype(np.float64)
        dist = (np.arange(a.shape[1])[None, :] - np.arange(a.shape[0])[:, None]) * float(h)
        return np.stack([(a * dist**k).sum(axis=1) for k in range(kmax + 1)])

    def spectrum(self, kind=None):
        """Eigenvalues (square operators, kind "eig") or singular values (kind "svd").

        Parameters
        ----------
        kind : {None, "eig", "svd"}
            None: "eig" when square, else "svd".

        Returns
        -------
        ndarray (host): complex eigenvalues, or singular values in descending order.
        """
        kind = kind or ("eig" if self.shape[0] == self.shape[1] else "svd")
        if kind not in ("eig", "svd"):
            raise ValueError(f"unknown spectrum kind {kind!r}; use 'eig' or 'svd'")
        if kind == "eig" and self.shape[0] != self.shape[1]:
            raise ValueError(f"eigenvalues need a square operator; this one is {self.shape}; use kind='svd'")
        if max(self.shape) > _DENSE_SPECTRUM_LIMIT:
            raise ValueError(f"operator of shape {self.shape} is too large for a dense spectrum "
                             f"(limit {_DENSE_SPECTRUM_LIMIT}); use scipy.sparse.linalg on to_sparse()")
        a = backend.to_numpy(self.to_dense()).astype(np.float64)
        return np.linalg.eigvals(a) if kind == "eig" else np.linalg.svd(a, compute_uv=False)

    def __repr__(self):
        return f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype})"


class Identity(Operator):
    """scale * I on R^n.

    Parameters
    ----------
    n : int
        Dimension.
    scale : float
    dtype : float32 or float64 (default float64)
    """

    def __init__(self, n, scale=1.0, dtype=None):
        if int(n) < 1:
            raise ValueError(f"empty operator: n = {n}; an operator needs n >= 1")
        if not np.isfinite(scale):
            raise ValueError(f"Identity scale is {scale}; it must be finite")
        self.shape = (int(n), int(n))
        self.dtype = backend.resolve_dtype(dtype)
        self.scale = float(scale)

    def _apply_into(self, x, out):
        backend.array_module(x).multiply(x, self.dtype.type(self.scale), out=out)
        return True

    _apply_transpose_into = _apply_into

    def to_dense(self):
        return backend.xp().eye(self.shape[0], dtype=self.dtype) * self.dtype.type(self.scale)

    def flops(self, batch=1):
        return 0 if self.scale == 1.0 else batch * self.shape[0]

    def astype(self, dtype):
        return Identity(self.shape[0], self.scale, dtype)

    def moments(self, h=1.0, kmax=2):
        m = np.zeros((kmax + 1, self.shape[0]))
        m[0] = self.scale
        return m


class Dense(Operator):
    """A general matrix, y = M x.

    Parameters
    ----------
    matrix : ndarray, shape (n_out, n_in)
        Float32 or float64 (NumPy or CuPy); other dtypes are cast to `dtype`.
    dtype : optional
        Default: the matrix's float dtype, else float64.
    """

    def __init__(self, matrix, dtype=None):
        xp = backend.array_module(matrix) if hasattr(matrix, "dtype") else backend.xp()
        dtype = backend.resolve_dtype(dtype, like=matrix)
        m = xp.asarray(matrix, dtype=dtype)
        if m.ndim != 2 or 0 in m.shape:
            raise ValueError(f"Dense needs a non-empty 2-D matrix; got shape {m.shape}")
        check_finite("matrix", m)
        self.matrix = m
        self.shape = tuple(int(s) for s in m.shape)
        self.dtype = np.dtype(dtype)

    def _apply_into(self, x, out):
        backend.array_module(x).matmul(x, self.matrix.T, out=out)
        return True

    def _apply_transpose_into(self, y, out):
        backend.array_module(y).matmul(y, self.matrix, out=out)
        return True

    @property
    def params(self):
        return [self.matrix]

    def grad(self, x, dy):
        return [dy.T @ x]

    def to_dense(self):
        return self.matrix

    def flops(self, batch=1):
        return 2 * batch * self.shape[0] * self.shape[1]

    def astype(self, dtype):
        return Dense(self.matrix, dtype)

    @classmethod
    def from_operator(cls, op):
        """Dense copy of any operator."""
        return cls(op.to_dense())

    @classmethod
    def from_sparse(cls, matrix, dtype=None):
        """Dense operator from a scipy.sparse matrix."""
        return cls(matrix.toarray(), dtype)


class Banded(Operator):
    """Square banded operator: (A x)_i = sum_k diagonals[k, i] x[col(i + offsets[k])].

    Diagonals are stored row-aligned: ``diagonals[k, i]`` is A[i, i + offsets[k]]. One row per
    diagonal of length n (variable coefficients) or a 1-D array of m values (a constant stencil,
    stored once: ``n`` must then be given).

    Parameters
    ----------
    offsets : sequence of int, shape (m,)
        Distinct offsets with |offset| < n.
    diagonals : ndarray, shape (m, n) or (m,)
    boundary : {"periodic", "zero", "neumann"}
        What i + offset outside [0, n) refers to (``fastdds.boundaries``): periodic wraps
        (circulant), zero drops the term (zero ghost values), neumann mirrors about the end node
        (-1 -> 1, n -> n - 2). "dirichlet" (end nodes held at prescribed values) is a solver's
        boundary, not an operator's: its layer forms hold the end nodes with identity end rows
        of a "zero" operator; Banded refuses it, naming "zero" (its former "dirichlet").
    n : int, optional
        Size; required for constant (1-D) diagonals.
    dtype : optional
        Default: the diagonals' float dtype, else float64.
    """

    BOUNDARIES = ("periodic", "zero", "neumann")

    def __init__(self, offsets, diagonals, boundary="zero", n=None, dtype=None):
        self.code = boundaries.code(boundary, self.BOUNDARIES, "Banded")
        xp = backend.array_module(diagonals) if hasattr(diagonals, "dtype") else backend.xp()
        dtype = backend.resolve_dtype(dtype, like=diagonals)
        d = xp.asarray(diagonals, dtype=dtype)
        offs = np.asarray(backend.to_numpy(offsets), dtype=np.int64).reshape(-1)
        if d.ndim == 1:
            if n is None:
                raise ValueError("constant diagonals (a 1-D array) need the size n")
            d = d.reshape(-1, 1)
        elif d.ndim == 2:
            n = d.shape[1] if n is None else n
            if d.shape[1] != n:
                raise ValueError(f"diagonals have {d.shape[1]} columns but n = {n}")
        else:
            raise ValueError(f"diagonals must be (m, n) or (m,); got shape {d.shape}")
        n = int(n)
        if n < 1 or offs.size == 0:
            raise ValueError(f"empty operator: n = {n}, {offs.size} diagonals")
        if d.shape[0] != offs.size:
            raise ValueError(f"{offs.size} offsets but {d.shape[0]} diagonals")
        if np.unique(offs).size != offs.size:
            raise ValueError(f"offsets must be distinct; got {offs.tolist()}")
        if np.abs(offs).max() >= n:
            raise ValueError(f"offset {int(np.abs(offs).max())} does not fit a {n}-point grid (|offset| < n)")
        check_finite("diagonals", d)
        self.offsets = offs
        self._device_offsets = {}  # device id -> offsets there (copied once, not per apply)
        self._products = {}  # (transpose, device id) -> (the kernels' product, offsets there)
        self.diagonals = xp.ascontiguousarray(d)
        self.boundary = boundary
        self.shape = (n, n)
        self.dtype = np.dtype(dtype)

    @property
    def constant(self):
        """True when every row holds the same stencil (diagonals stored as (m, 1))."""
        return self.diagonals.shape[1] == 1

    def _kernels(self, like):
        return backend.kernels("banded", like=like)

    def _offsets_on(self, like):
        return backend.on_device(self.offsets, like, self._device_offsets)

    _fused_check = True
    _separate_out = True

    def __getstate__(self):
        """The operator without its lookups of compiled products (found again on first use)."""
        return {**self.__dict__, "_products": {}}

    def _product_on(self, like, transpose):
        """(the kernels' product of this operator's form, A x or A^T y, and the offsets) on like's
        device, looked up once per device and direction: the lookups took a fifth of a 1,000-point
        float32 apply (2.9 -> 2.3 us)."""
        key = (transpose, backend.device_key(like))
        found = self._products.get(key)
        if found is None:
            found = self._products[key] = (self._kernels(like).product(transpose, self.diagonals),
                                           self._offsets_on(like))
        return found

    def _apply_into(self, x, out):
        """The kernel's own NaN/inf test answers (a GPU twin that returns None is tested after)."""
        product, offsets = self._product_on(x, False)
        return product(x, offsets, self.diagonals, self.code, out)

    def _apply_transpose_into(self, y, out):
        product, offsets = self._product_on(y, True)
        return product(y, offsets, self.diagonals, self.code, out)

    @property
    def params(self):
        return [self.diagonals]

    def grad(self, x, dy):
        g = backend.array_module(x).zeros_like(self.diagonals)
        self._kernels(x).diag_grad(x, dy, self._offsets_on(x), self.code, g)
        return [g]

    def _columns(self):
        """(rows, cols, k) of every stored entry after the boundary map (host arrays)."""
        n = self.shape[0]
        i = np.arange(n)
        rows, cols, ks = [], [], []
        for k, o in enumerate(self.offsets):
            j = i + o
            if self.boundary == "periodic":
                j = j % n
            elif self.boundary == "neumann":
                j = np.where(j < 0, -j, np.where(j >= n, 2 * (n - 1) - j, j))
            keep = (j >= 0) & (j < n)
            rows.append(i[keep])
            cols.append(j[keep])
            ks.append(np.full(keep.sum(), k))
        return np.concatenate(rows), np.concatenate(cols), np.concatenate(ks)

    def to_sparse(self):
        rows, cols, ks = self._columns()
        d = backend.to_numpy(self.diagonals)
        vals = d[ks, 0] if self.constant else d[ks, rows]
        return sp.csr_matrix(sp.coo_matrix((vals, (rows, cols)), shape=self.shape))

    def to_dense(self):
        dense = self.to_sparse().toarray().astype(self.dtype)
        return backend.array_module(self.diagonals).asarray(dense)

    def flops(self, batch=1):
        return 2 * batch * self.shape[0] * self.offsets.size

    def astype(self, dtype):
        d = self.diagonals[:, 0] if self.constant else self.diagonals
        return Banded(self.offsets, d, self.boundary, n=self.shape[0], dtype=dtype)

    def moments(self, h=1.0, kmax=2):
        """Row moments; periodic rows use the stencil offset as the distance (not the wrapped j - i).

        Returns
        -------
        ndarray, shape (kmax + 1, n), float64.
        """
        n = self.shape[0]
        rows, cols, ks = self._columns()
        d = backend.to_numpy(self.diagonals).astype(np.float64)
        vals = d[ks, 0] if self.constant else d[ks, rows]
        dist = (self.offsets[ks] if self.boundary == "periodic" else cols - rows) * float(h)
        return np.stack([np.bincount(rows, vals * dist**k, minlength=n) for k in range(kmax + 1)])

    def spectrum(self, kind=None):
        """As `Operator.spectrum`; a constant periodic stencil (circulant) uses the FFT, any n."""
        if kind in (None, "eig") and self.constant and self.boundary == "periodic":
            n = self.shape[0]
            c = backend.to_numpy(self.diagonals[:, 0]).astype(np.float64)
            p = np.arange(n)
            return (c[None, :] * np.exp(2j * np.pi * np.outer(p, self.offsets) / n)).sum(axis=1)
        return super().spectrum(kind)

    @classmethod
    def stencil(cls, coeffs, n, h=1.0, boundary="zero", offsets=None, power=0, dtype=None):
        """A constant stencil on an n-point grid.

        Parameters
        ----------
        coeffs : sequence of float, length m
            Stencil weights, e.g. (1, -2, 1).
        n : int
        h : float
            Grid spacing; the weights are divided by h**power.
        boundary : {"periodic", "zero", "neumann"}
        offsets : sequence of int, optional
            Default: centred, -(m-1)//2 .. m//2.
        power : int
            Power of h to divide by (2 for (1, -2, 1)/h^2).
        """
        c = np.asarray(coeffs, dtype=np.float64) / float(h) ** power
        offs = np.arange(c.size) - (c.size - 1) // 2 if offsets is None else offsets
        return cls(offs, c, boundary, n=n, dtype=dtype)

    @classmethod
    def derivative(cls, order, accuracy, n, h=1.0, kind="central", boundary="zero", dtype=None):
        """Finite-difference derivative d^order/dx^order from Fornberg's weights.

        Parameters
        ----------
        order : int >= 1
        accuracy : int >= 1
            Formal order of accuracy (even for central).
        n : int
        h : float
            Grid spacing (units of x).
        kind : {"central", "forward", "backward"}
        boundary : {"periodic", "zero", "neumann"}
        """
        offs = stencil_offsets(order, accuracy, kind)
        return cls.stencil(fornberg_weights(offs, order), n, h, boundary, offsets=offs, power=order,
                           dtype=dtype)

    @classmethod
    def from_sparse(cls, matrix, dtype=None):
        """Banded ("zero" boundary) operator holding every nonzero diagonal of a square sparse matrix."""
        coo = sp.coo_matrix(matrix)
        coo.sum_duplicates()
        if coo.shape[0] != coo.shape[1]:
            raise ValueError(f"Banded operators are square; got shape {coo.shape}")
        offs = np.unique(coo.col - coo.row)
        if offs.size == 0:
            offs = np.zeros(1, dtype=np.int64)
        d = np.zeros((offs.size, coo.shape[0]))
        d[np.searchsorted(offs, coo.col - coo.row), coo.row] = coo.data
        return cls(offs, d, "zero", dtype=dtype)

    @classmethod
    def from_dense(cls, matrix, dtype=None):
        """Banded ("zero" boundary) operator from a dense square matrix."""
        return cls.from_sparse(sp.coo_matrix(backend.to_numpy(matrix)), dtype)
