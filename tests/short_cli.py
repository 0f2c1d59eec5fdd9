"""``fastdds`` (the console script's `fastdds.cli.main`) with the quick Eikonal schedule cut to
200 Adam steps, for tests of what surrounds training (merging job folders, spreading seeds over
MPI ranks) rather than of training itself. In-process tests set `SHORT_EIKONAL` with
monkeypatch; as a script it runs the command it is given with that schedule.

Usage: ``[mpiexec -n N] python tests/short_cli.py reproduce eikonal --quick ...``.
"""

import sys

from fastdds import cli
from fastdds.pinn import reproduce

# The quick Eikonal schedule shortened tenfold, its rates' switch points scaled alike.
SHORT_EIKONAL = dict(reproduce.QUICK["eikonal"], adam_steps=200, lr=("piecewise", (60, 140), (1e-1, 1e-2, 1e-3)))

if __name__ == "__main__":
    reproduce.QUICK["eikonal"] = SHORT_EIKONAL
    sys.exit(cli.main(sys.argv[1:]))
