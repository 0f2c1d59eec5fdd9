"""The one boundary vocabulary of fastdds: what a grid's ends mean, for operators and solvers alike.

Every consumer (``operators.Banded``, the layer kernels, the Burgers and heat solvers, the scheme
registry, the halo decomposition) names its end treatment with one of these words, validates it
with `code` and passes the kernels the code of the one table, ``fastdds.kernels.BOUNDARY_CODES``.
A name means the same thing everywhere; a consumer supports the names it implements:

    periodic   the grid wraps: node n is node 0 (n nodes, x_n = x_0).
    zero       the array holds interior nodes only and the values beyond both ends are zero: a
               term that reaches past an end drops (homogeneous data on the ghost nodes).
               Banded, heat.
    neumann    zero slope at the end node: a term past an end reads the node mirrored about
               the end node (x_{-j} = x_j, x_{n-1+j} = x_{n-1-j}). Banded.
    dirichlet  the first and last entries of the array are the boundary nodes and their values
               are prescribed: they are set to the given end values and held there (a layer
               form keeps them with identity end rows). Burgers.
    outflow    the ghost nodes copy the end value (zero-gradient outflow). Burgers.

"dirichlet" meant "zero" for ``Banded`` and the heat solvers before this vocabulary; those
consumers now refuse "dirichlet" with an error naming "zero", so no old call silently changes.
"""

from .kernels import BOUNDARY_CODES

CODES = BOUNDARY_CODES
"""Boundary name -> kernel code (the table of ``fastdds.kernels``)."""

MEANINGS = {
    "periodic": "the grid wraps: node n is node 0",
    "zero": "the values beyond both ends are zero: terms past an end drop",
    "neumann": "terms past an end read the node mirrored about the end node",
    "dirichlet": "the end nodes are stored and held at prescribed values",
    "outflow": "the ghost nodes copy the end value",
}
"""Boundary name -> its one meaning (one line of the module docstring)."""


def code(boundary, supported, who):
    """Validate a boundary name for one consumer and return its kernel code.

    Parameters
    ----------
    boundary : str
        A name of `CODES`.
    supported : sequence of str
        The names this consumer implements.
    who : str
        The consumer, for the message (e.g. "Banded", "burgers.solve").

    Returns
    -------
    int, ``CODES[boundary]``.

    Raises
    ------
    ValueError
        An unknown name, or a name the consumer does not support: the message lists the ones it
        does (and, for "dirichlet" where "zero" is supported, names "zero" as the spelling of
        the consumer's former "dirichlet").
    """
    if boundary in supported:
        return CODES[boundary]
    listed = ", ".join(repr(b) for b in supported)
    if boundary not in CODES:
        raise ValueError(f"unknown boundary {boundary!r}; {who} supports {listed} (fastdds.boundaries)")
    msg = f"{who} has no boundary {boundary!r}; it supports {listed}"
    if boundary == "dirichlet" and "zero" in supported:
        msg += ('; "dirichlet" means end nodes held at prescribed values, and the former "dirichlet" '
                'of this consumer (values beyond the ends are zero) is spelled "zero"')
    elif boundary in MEANINGS:
        msg += f" ({boundary!r}: {MEANINGS[boundary]})"
    raise ValueError(msg)
