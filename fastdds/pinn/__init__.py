"""fastdds.pinn: physics-informed networks trained with hand-written derivatives (no autodiff).

- `residuals`: PDE residuals with their partials with respect to the Taylor streams (u, u_x, u_t, u_xx).
- `problems`: domains, seeded point sets (uniform, Latin hypercube, grids), the published problems.
- `loss`: the weighted MSE over point groups and its gradient through ``fastdds.nn.mlp.MLP.stream_backward``.
- `train`: full-batch Adam on a schedule, then L-BFGS-B, with atomic checkpoints and exact resume.
- `reproduce`: the published configurations, their metrics, and evaluation of saved weights.
"""
