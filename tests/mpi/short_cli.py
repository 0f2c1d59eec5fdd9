"""``fastdds`` (the console script's `fastdds.cli.main`) with the quick Eikonal schedule cut to
200 Adam steps, for tests of what surrounds training (spreading seeds over ranks) rather than of
training itself.

Usage: ``[mpiexec -n N] python tests/mpi/short_cli.py reproduce eikonal --quick ...``.
"""

import sys

from fastdds import cli
from fastdds.pinn import reproduce

reproduce.QUICK["eikonal"] = dict(reproduce.QUICK["eikonal"], adam_steps=200,
                                  lr=("piecewise", (60, 140), (1e-1, 1e-2, 1e-3)))

if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:]))
