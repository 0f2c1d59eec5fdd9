"""Direct operator comparison: FD stencils and trained weights measured the same way.

- `operator_stats`: per-operator measures (row moments, entry statistics, random-matrix fits,
  band energy before/after reverse Cuthill-McKee, effective rank, parameters, FLOPs).
- `random_matrix`: Marchenko-Pastur law and circular law.
- `cross_run`: correlations between independently trained runs, raw and after Hungarian neuron
  matching.
- `dynamics`: layer-wise propagation; network depth and FD time steps on one axis.
"""

from .cross_run import align_mlp, compare_runs, match_neurons, mlp_weights, network_states, pearson
from .dynamics import chain_trajectory, depth_statistics, step_sizes
from .operator_stats import (MEASURES, band_energy, effective_rank, entry_stats, layer_operators, moment_stats,
                             operator_report, rcm_order)
from .random_matrix import circular_law_fit, marchenko_pastur_fit, mp_cdf, mp_pdf

__all__ = ["MEASURES", "align_mlp", "band_energy", "chain_trajectory", "circular_law_fit", "compare_runs",
           "depth_statistics", "effective_rank", "entry_stats", "layer_operators", "marchenko_pastur_fit",
           "match_neurons", "mlp_weights", "moment_stats", "mp_cdf", "mp_pdf", "network_states",
           "operator_report", "pearson", "rcm_order", "step_sizes"]
