"""Explicit Runge-Kutta methods as data: one home for every stepper of fastdds.

A method is a Butcher tableau (jax-cfd style: the coefficients are fields, checked once in
``__post_init__``; the order is data, as in torchdiffeq's fixed-grid solvers):

    k_i = f(t + c_i dt, u + dt sum_j a_ij k_j),    u_new = u + dt sum_i b_i k_i

The strong-stability-preserving (SSP) methods also have the Shu-Osher form that the Burgers
kernels step with, stored beside the tableau and checked against it:

    u^(0) = u,    u^(k+1) = a_k u + b_k (u^(k) + dt L(u^(k))),    u_new = u^(s)

Coefficients are Python floats; the checks, the order conditions and the stability polynomial
are computed in exact rational arithmetic on those floats (`fractions.Fraction`) and rounded
once, so the derived constants are the correctly rounded values (1/24, not 1/24 + an ulp).

Readers: `fastdds.pde.burgers` (the SSP Shu-Osher forms), `fastdds.nn.node` (RK4, its 3/8
variant, Euler), `fastdds.pde.heat` (the RK4 stability polynomial, which is also the constant
set of the tridiagonal RK4 kernel).
"""

from dataclasses import dataclass
from fractions import Fraction

_TOL = Fraction(1, 10**12)


def _exact(rows):
    return [[Fraction(v) for v in row] for row in rows]


def _matvec(A, v):
    return [sum((a * x for a, x in zip(row, v)), Fraction(0)) for row in A]


def _dot(u, v):
    return sum((a * b for a, b in zip(u, v)), Fraction(0))


@dataclass(frozen=True)
class ButcherTableau:
    """An explicit Runge-Kutta method.

    Parameters
    ----------
    a : sequence of s sequences of s floats
        The stage matrix, strictly lower triangular (explicit).
    b : sequence of s floats
        Weights; they sum to 1.
    c : sequence of s floats
        Nodes, the row sums of `a`.
    order : int in 1..4
        Classical order; the order conditions up to it are checked.
    name : str

    Raises
    ------
    ValueError
        Naming the first condition that fails (shapes, explicitness, c, sum of b, order).
    """

    a: tuple
    b: tuple
    c: tuple
    order: int
    name: str = ""

    def __post_init__(self):
        a = tuple(tuple(float(v) for v in row) for row in self.a)
        b, c = tuple(float(v) for v in self.b), tuple(float(v) for v in self.c)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "c", c)
        s = len(b)
        label = f"tableau {self.name!r}" if self.name else "tableau"
        if s == 0 or len(c) != s or len(a) != s or any(len(row) != s for row in a):
            raise ValueError(f"{label}: a must be {s} x {s} and c of length {s} for {s} weights b; "
                             f"got a with rows {[len(r) for r in a]}, c of length {len(c)}")
        for i, row in enumerate(a):
            if any(row[i:]):
                raise ValueError(f"{label}: a[{i}] = {row} has entries on or above the diagonal; "
                                 f"only explicit (strictly lower triangular) methods are supported")
        A = _exact(a)
        for i, (row, ci) in enumerate(zip(A, c)):
            if abs(sum(row) - Fraction(ci)) > _TOL:
                raise ValueError(f"{label}: c[{i}] = {ci} is not the row sum {float(sum(row))} of a[{i}]")
        if not (isinstance(self.order, int) and 1 <= self.order <= 4):
            raise ValueError(f"{label}: order = {self.order!r}; orders 1 to 4 are supported")
        for p in range(1, self.order + 1):
            for res in self.order_conditions(p):
                if abs(res) > _TOL:
                    raise ValueError(f"{label}: an order-{p} condition fails by {float(res):.3g}"
                                     + ("; the weights b must sum to 1" if p == 1 else
                                        f"; the method is not of order {self.order}"))

    @property
    def stages(self):
        """Number of stages s."""
        return len(self.b)

    def order_conditions(self, p):
        """Residuals of the order-p conditions (tree conditions), exact.

        Parameters
        ----------
        p : int in 1..4

        Returns
        -------
        list of Fraction: p = 1: [b.1 - 1]; p = 2: [b.c - 1/2]; p = 3: [b.c^2 - 1/3, b.Ac - 1/6];
        p = 4: [b.c^3 - 1/4, b.(c Ac) - 1/8, b.Ac^2 - 1/12, b.AAc - 1/24].
        """
        A, (b, c) = _exact(self.a), _exact((self.b, self.c))
        Ac = _matvec(A, c)
        c2 = [x * x for x in c]
        conditions = {
            1: [(b, [Fraction(1)] * len(b), Fraction(1))],
            2: [(b, c, Fraction(1, 2))],
            3: [(b, c2, Fraction(1, 3)), (b, Ac, Fraction(1, 6))],
            4: [(b, [x * y for x, y in zip(c2, c)], Fraction(1, 4)), (b, [x * y for x, y in zip(c, Ac)], Fraction(1, 8)),
                (b, _matvec(A, c2), Fraction(1, 12)), (b, _matvec(A, Ac), Fraction(1, 24))],
        }
        if p not in conditions:
            raise ValueError(f"order conditions are written for p = 1..4, not {p}")
        return [_dot(u, v) - rhs for u, v, rhs in conditions[p]]

    def stability_polynomial(self):
        """Coefficients of R(z) = 1 + z b^T (I - z A)^{-1} 1, the growth factor of one step of u' = lambda u
        (z = lambda dt).

        A is nilpotent (explicit), so R(z) = 1 + sum_{k=1}^{s} z^k b^T A^{k-1} 1, a polynomial of
        degree s. Computed exactly, then rounded.

        Returns
        -------
        tuple of s + 1 floats, ascending powers: (1, b.1, b.A1, b.A^2 1, ...).
        """
        A, b = _exact(self.a), [Fraction(v) for v in self.b]
        coeffs, v = [Fraction(1)], [Fraction(1)] * len(b)
        for _ in range(len(b)):
            coeffs.append(_dot(b, v))
            v = _matvec(A, v)
        return tuple(float(x) for x in coeffs)


@dataclass(frozen=True)
class ShuOsher:
    """The Shu-Osher form u^(k+1) = a_k u^n + b_k (u^(k) + dt L(u^(k))) of an explicit method.

    Parameters
    ----------
    a, b : sequences of s floats
        a_k + b_k = 1 (consistency), b_k > 0; SSP when also a_k >= 0.
    tableau : ButcherTableau
        The same method in Butcher form; `butcher()` must reproduce it (to 1e-12).

    Attributes
    ----------
    name, order : those of `tableau`
    """

    a: tuple
    b: tuple
    tableau: ButcherTableau

    def __post_init__(self):
        a, b = tuple(float(v) for v in self.a), tuple(float(v) for v in self.b)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        label = f"Shu-Osher form of {self.tableau.name!r}"
        if len(a) != len(b) or len(b) != self.tableau.stages:
            raise ValueError(f"{label}: a ({len(a)}) and b ({len(b)}) need one entry per stage "
                             f"({self.tableau.stages})")
        for k, (ak, bk) in enumerate(zip(a, b)):
            if abs(Fraction(ak) + Fraction(bk) - 1) > _TOL or bk <= 0:
                raise ValueError(f"{label}: stage {k} has a + b = {ak + bk}, b = {bk}; need a + b = 1, b > 0")
        rows, weights = self._butcher_exact()
        mine = [v for row in rows for v in row] + weights
        theirs = [Fraction(v) for row in self.tableau.a for v in row] + [Fraction(v) for v in self.tableau.b]
        err = max(abs(x - y) for x, y in zip(mine, theirs))
        if err > _TOL:
            raise ValueError(f"{label}: it is not the method of its Butcher tableau (coefficients differ by "
                             f"{float(err):.3g})")

    @property
    def name(self):
        """The method's name (its tableau's)."""
        return self.tableau.name

    @property
    def order(self):
        """The method's classical order (its tableau's)."""
        return self.tableau.order

    def _butcher_exact(self):
        """(A rows, b) of `butcher()` as exact Fractions."""
        s = len(self.b)
        rows, row = [], [Fraction(0)] * s
        for k, bk in enumerate(self.b):
            rows.append(row)
            e = [Fraction(int(j == k)) for j in range(s)]
            row = [Fraction(bk) * (x + y) for x, y in zip(row, e)]
        return rows, row

    def butcher(self):
        """The Butcher tableau this form steps: u^(k) = u + dt sum_j A_kj L(u^(j)) with
        A_{k+1} = b_k (A_k + e_k), and b = b_{s-1} (A_{s-1} + e_{s-1}).

        Returns
        -------
        ButcherTableau (named and ordered as `tableau`)
        """
        A, b = self._butcher_exact()
        return ButcherTableau([[float(v) for v in row] for row in A], [float(v) for v in b],
                              [float(sum(row)) for row in A], self.order, self.name)

    def stability_polynomial(self):
        """Coefficients of the growth factor of one step of u' = lambda u, obtained by running the
        stages on polynomials in z = lambda dt: u^(k+1)(z) = a_k + b_k (1 + z) u^(k)(z).

        Returns
        -------
        tuple of s + 1 floats, ascending powers (compare `ButcherTableau.stability_polynomial`).
        """
        u = [Fraction(1)]
        for ak, bk in zip(self.a, self.b):
            shifted = [Fraction(0)] + u
            u = [Fraction(bk) * (x + y) for x, y in zip(u + [Fraction(0)], shifted)]
            u[0] += Fraction(ak)
        return tuple(float(x) for x in u)


EULER = ButcherTableau([[0]], [1], [0], 1, "euler")
SSP_RK2 = ButcherTableau([[0, 0], [1, 0]], [1 / 2, 1 / 2], [0, 1], 2, "ssp-rk2")
SSP_RK3 = ButcherTableau([[0, 0, 0], [1, 0, 0], [1 / 4, 1 / 4, 0]], [1 / 6, 1 / 6, 2 / 3], [0, 1, 1 / 2], 3,
                         "ssp-rk3")
RK4 = ButcherTableau([[0, 0, 0, 0], [1 / 2, 0, 0, 0], [0, 1 / 2, 0, 0], [0, 0, 1, 0]],
                     [1 / 6, 1 / 3, 1 / 3, 1 / 6], [0, 1 / 2, 1 / 2, 1], 4, "rk4")
RK4_38 = ButcherTableau([[0, 0, 0, 0], [1 / 3, 0, 0, 0], [-1 / 3, 1, 0, 0], [1, -1, 1, 0]],
                        [1 / 8, 3 / 8, 3 / 8, 1 / 8], [0, 1 / 3, 2 / 3, 1], 4, "rk4-3/8")

TABLEAUS = {t.name: t for t in (EULER, SSP_RK2, SSP_RK3, RK4, RK4_38)}
"""Every Butcher tableau by name."""

SHU_OSHER = {
    "euler": ShuOsher((0.0,), (1.0,), EULER),
    "ssp-rk2": ShuOsher((0.0, 0.5), (1.0, 0.5), SSP_RK2),
    "ssp-rk3": ShuOsher((0.0, 0.75, 1.0 / 3.0), (1.0, 0.25, 2.0 / 3.0), SSP_RK3),
}
"""The Shu-Osher forms of the SSP methods (Gottlieb and Shu 1998), by name."""


def get(name):
    """The Butcher tableau called `name` (a key of `TABLEAUS`), or `name` itself if it is one."""
    if isinstance(name, ButcherTableau):
        return name
    if name not in TABLEAUS:
        raise ValueError(f"unknown Runge-Kutta method {name!r}; choose one of {sorted(TABLEAUS)}")
    return TABLEAUS[name]
