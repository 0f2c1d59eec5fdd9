"""``fastdds compare``: trained PINN weights against an FD scheme's stencils, layer by layer."""

import math

SCHEMES = ("burgers-lf", "burgers-eo", "ftcs-heat")


def register(subparsers):
    p = subparsers.add_parser(
        "compare", help="compare trained PINN weights with FD stencils (operator measures, runs, dynamics)",
        description="Measure every PINN layer of the first weight file and every operator of one FD time "
                    "step the same way (row moments, entry statistics, Marchenko-Pastur, circular law, band "
                    "energy before/after reverse Cuthill-McKee, effective rank, parameters, FLOPs); compare "
                    "the runs with each other (raw and neuron-matched weight correlations) and propagate "
                    "both systems layer by layer.")
    p.add_argument("weights", nargs="+", help=".npz weight files (W0..WL, b0..bL), one per trained run")
    p.add_argument("--scheme", choices=SCHEMES, default="burgers-lf", help="FD scheme (default burgers-lf)")
    p.add_argument("--nx", type=int, default=101, help="FD grid nodes on [0, 1] (default 101)")
    p.add_argument("--activation", default="tanh", help="hidden activation of the networks (default tanh)")
    p.add_argument("--nu", type=float, default=0.01 / math.pi, help="viscosity / diffusivity (default 0.01/pi)")
    p.add_argument("--boundary", default="dirichlet", help="FD boundary (default dirichlet)")
    p.add_argument("--cfl", type=float, default=0.5, help="Burgers time step as a fraction of the stable one")
    p.add_argument("--r", type=float, default=0.25, help="FTCS diffusion number nu dt/dx^2 (default 0.25)")
    p.add_argument("--t-end", type=float, default=0.3, help="FD time for the dynamics (default 0.3)")
    p.add_argument("--probes", type=int, default=512, help="random probe points (x, t) (default 512)")
    p.add_argument("--box", type=float, nargs=4, default=(0.0, 1.0, 0.0, 1.0), metavar=("X0", "X1", "T0", "T1"),
                   help="probe box (default 0 1 0 1)")
    p.add_argument("--band", type=float, default=1.0, help="band width for the band energy (default 1)")
    p.add_argument("--keep", type=float, default=0.1, help="fraction of largest |A_ij| kept for RCM (default 0.1)")
    p.add_argument("--no-baseline", action="store_true",
                   help="skip the control: untrained Glorot-uniform networks of the same shape compared alike")
    p.add_argument("--seed", type=int, default=0, help="seed of the probes and the baseline (default 0)")
    p.add_argument("--json", metavar="PATH", help="write every measure as JSON")
    p.add_argument("--markdown", metavar="PATH", help="write the tables as Markdown")
    p.add_argument("--plots", metavar="DIR", help="write PNG figures (needs pip install 'fastdds[plot]')")
    p.set_defaults(func=run)


def fd_setup(scheme, nx, nu, boundary, cfl, r, t_end):
    """One FD time step as layers, the initial state sin(2 pi x) and the number of steps to t_end.

    Parameters
    ----------
    scheme : one of SCHEMES
    nx : int >= 3
        Nodes on [0, 1], dx = 1 / (nx - 1).
    nu : float
        Viscosity (Burgers) or diffusivity (heat).
    boundary : str
    cfl : float in (0, 1]
        Burgers: dt = cfl * the largest stable step for |u| <= 1.
    r : float
        FTCS: r = nu dt / dx^2.
    t_end : float > 0

    Returns
    -------
    layers : list of Layer (one step)
    u0 : ndarray, shape (nx,)
    nsteps : int
    info : dict (dx, dt, nsteps, ...) for the report
    """
    import numpy as np

    if nx < 3:
        raise ValueError(f"--nx {nx} is too small; an FD stencil needs at least 3 nodes")
    if t_end <= 0:
        raise ValueError(f"--t-end {t_end} must be positive")
    dx = 1.0 / (nx - 1)
    u0 = np.sin(2 * np.pi * np.linspace(0.0, 1.0, nx))
    if scheme.startswith("burgers"):
        from fastdds.pde import burgers

        if not 0 < cfl <= 1:
            raise ValueError(f"--cfl {cfl} must be in (0, 1]")
        flux = scheme.split("-")[1]
        nsteps = math.ceil(t_end / (cfl * burgers.max_stable_dt(flux, dx, nu, 1.0)))
        dt = t_end / nsteps
        layers = burgers.step_layers(flux, nx, dx, dt, nu, boundary)
    else:
        try:
            from fastdds.pde.heat import ftcs_layer
        except ImportError as exc:
            raise RuntimeError("the ftcs-heat scheme needs fastdds.pde.heat.ftcs_layer, which this install "
                               "lacks; use --scheme burgers-lf or burgers-eo") from exc
        if nu <= 0:
            raise ValueError(f"--nu {nu} must be positive for the heat equation")
        dt = r * dx * dx / nu
        nsteps = max(1, math.ceil(t_end / dt))
        layers = [ftcs_layer(nx, r, boundary=boundary)]
    return layers, u0, nsteps, dict(scheme=scheme, nx=nx, dx=dx, dt=dt, nsteps=nsteps, nu=nu, boundary=boundary)


def run(args):
    import numpy as np

    from fastdds import io
    from fastdds.analysis import report
    from fastdds.nn.mlp import MLP

    if args.plots:
        report.pyplot()
    if args.probes < 10:
        raise ValueError(f"--probes {args.probes} is too few to correlate activations; use at least 10")
    nets = [MLP.load(path, args.activation, dtype=np.float64) for path in args.weights]
    fd_step, u0, nsteps, info = fd_setup(args.scheme, args.nx, args.nu, args.boundary, args.cfl, args.r, args.t_end)
    x0, x1, t0, t1 = args.box
    rng = np.random.default_rng(args.seed)
    n_in = nets[0].sizes[0]
    probes = rng.uniform(0.0, 1.0, (args.probes, n_in))
    if n_in == 2:
        probes = np.array([x0, t0]) + probes * np.array([x1 - x0, t1 - t0])
    baseline = None
    if not args.no_baseline and len(nets) > 1:
        baseline = [MLP(nets[0].sizes, args.activation, seed=args.seed + k).layers for k in range(len(nets))]
    result = report.build_report([net.layers for net in nets], fd_step, u0, nsteps, probes, baseline,
                                 args.band, args.keep)
    setup = dict(info, weights=[str(p) for p in args.weights], activation=args.activation, probes=args.probes,
                 box=list(args.box), seed=args.seed, baseline="glorot_uniform untrained" if baseline else None)
    print(f"{len(nets)} run(s) of {nets[0].sizes} ({nets[0].nparams} parameters) against {args.scheme}: "
          f"nx = {info['nx']}, dx = {info['dx']:.4g}, dt = {info['dt']:.4g}, {nsteps} steps, {args.boundary}")
    print(report.report_text(result))
    if args.json:
        io.write_json(args.json, report.report_json(result, setup))
        print(f"wrote {args.json}")
    if args.markdown:
        io.write_text(args.markdown, report.report_text(result, report.render_markdown))
        print(f"wrote {args.markdown}")
    if args.plots:
        paths = report.write_plots(args.plots, result["pinn"], result["fd"], result["dynamics"])
        print("wrote " + ", ".join(str(p) for p in paths))
