"""Direct operator comparison: FD stencils and trained weights measured the same way.

- `operator_stats`: per-operator measures (row moments, entry statistics, random-matrix fits,
  band energy before/after reverse Cuthill-McKee, effective rank, parameters, FLOPs), the
  operators of a layer form (`form_operators`) and of an FHN step at its fixed points.
- `random_matrix`: Marchenko-Pastur law and circular law.
- `cross_run`: correlations between independently trained runs, raw and after Hungarian neuron
  matching.
- `dynamics`: layer-wise propagation; network depth and FD time steps on one axis; the Euler
  radius of every step along a run.
"""

from .cross_run import align_mlp, compare_runs, match_neurons, mlp_weights, network_states, pearson
from .dynamics import chain_trajectory, depth_statistics, euler_radii, step_sizes
from .operator_stats import (MEASURES, band_energy, constant_term, effective_rank, entry_stats,
                             fhn_fixed_point_operators, form_operators, layer_operators, model_fixed_point_operators,
                             moment_stats, operator_report, rcm_order)
from .random_matrix import circular_law_fit, marchenko_pastur_fit, mp_cdf, mp_pdf

__all__ = ["MEASURES", "align_mlp", "band_energy", "chain_trajectory", "circular_law_fit", "compare_runs",
           "constant_term", "depth_statistics", "effective_rank", "entry_stats", "euler_radii",
           "fhn_fixed_point_operators", "form_operators", "layer_operators", "marchenko_pastur_fit",
           "match_neurons", "mlp_weights", "model_fixed_point_operators", "moment_stats", "mp_cdf", "mp_pdf",
           "network_states", "operator_report", "pearson", "rcm_order", "step_sizes"]
