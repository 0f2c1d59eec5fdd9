"""``fastdds compare``: any saved model against any registered FD scheme, operator by operator."""

import math

from fastdds.activations import ACTIVATION_CODES
from fastdds.boundaries import CODES as BOUNDARY_CODES
from fastdds.schemes import SCHEMES

from ._common import count, finite, nonnegative, output_dir, output_file, positive


def register(subparsers):
    p = subparsers.add_parser(
        "compare", help="compare a trained model's layers with an FD scheme's stencils (operators, runs, dynamics)",
        description="Measure every operator of the layer form of the first model (block.layers()) and of one "
                    "FD time step the same way (row moments, entry statistics, Marchenko-Pastur, circular law, "
                    "band energy before/after reverse Cuthill-McKee, effective rank, parameters, FLOPs), and of "
                    "every FHN layer's Euler step at its fixed points; compare MLP runs with each other (raw and "
                    "neuron-matched weight correlations) and propagate both systems layer by layer.")
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="model files, one per trained run: PINN weight files (W0..WL, b0..bL), files of "
                        "fastdds.models.save_model or checkpoints of fastdds.nn.train.fit")
    p.add_argument("--scheme", choices=sorted(SCHEMES), default="burgers-lf",
                   help="FD scheme with a layer form (fastdds.schemes.SCHEMES): %(choices)s (default burgers-lf)")
    p.add_argument("--nx", type=count, default=101, help="FD grid nodes [count] (default 101)")
    p.add_argument("--activation", choices=sorted(ACTIVATION_CODES), default="tanh",
                   help="hidden activation of PINN weight files: %(choices)s (default tanh)")
    p.add_argument("--nu", type=nonnegative, default=0.01 / math.pi,
                   help="viscosity / diffusivity [x^2 / t] (default 0.01/pi)")
    p.add_argument("--boundary", choices=tuple(BOUNDARY_CODES), default=None,
                   help="FD boundary (fastdds.boundaries): %(choices)s (default: Burgers dirichlet, heat zero)")
    p.add_argument("--cfl", type=positive, default=0.5,
                   help="time step as a fraction of the stable one [dimensionless] (default 0.5)")
    p.add_argument("--r", type=positive, default=0.25,
                   help="heat: diffusion number nu dt/dx^2 [dimensionless] (default 0.25)")
    p.add_argument("--t-end", "--t", type=positive, default=0.3,
                   help="FD time for the dynamics [t] (default 0.3); --t is a deprecated alias")
    p.add_argument("--probes", type=count, default=512, help="random probe inputs [count] (default 512)")
    p.add_argument("--box", type=finite, nargs=4, default=(0.0, 1.0, 0.0, 1.0), metavar=("X0", "X1", "T0", "T1"),
                   help="probe box of a model with inputs (x, t) [x x t t] (default 0 1 0 1; others: [0, 1] per input)")
    p.add_argument("--band", type=nonnegative, default=1.0,
                   help="band width for the band energy [diagonals] (default 1)")
    p.add_argument("--keep", type=positive, default=0.1,
                   help="fraction of largest |A_ij| kept for RCM [dimensionless] (default 0.1)")
    p.add_argument("--no-baseline", action="store_true",
                   help="skip the control: untrained Glorot-uniform MLPs of the same shape compared alike")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the probes and the baseline [integer] (default 0; baseline run k uses seed + k)")
    p.add_argument("--json", type=output_file, metavar="PATH", help="write every measure as JSON")
    p.add_argument("--markdown", type=output_file, metavar="PATH", help="write the tables as Markdown")
    p.add_argument("--plots", type=output_dir, metavar="DIR", help="write PNG figures (needs pip install 'fastdds[plot]')")
    p.set_defaults(func=run)


def run(args):
    import sys
    import time

    import numpy as np

    from fastdds import io, schemes
    from fastdds.analysis import report
    from fastdds.analysis.operator_stats import model_fixed_point_operators
    from fastdds.models import load_model
    from fastdds.nn.mlp import MLP
    from fastdds.validation import check_memory, format_bytes

    if args.plots:
        report.pyplot()
    if args.probes < 10:
        raise ValueError(f"--probes {args.probes} is too few to correlate activations; use at least 10")
    started = time.perf_counter()
    need = 100 * args.nx ** 2  # the FD operators measured as dense nx x nx matrices: about 100 bytes per entry
    free = check_memory(need, f"compare --nx {args.nx}", "lower --nx (the FD operators are analysed as dense "
                        "nx x nx matrices; their spectra cost about nx^3 operations)")
    print(f"compare: loading {len(args.models)} model file(s) ...", file=sys.stderr, flush=True)
    models = [load_model(path, args.activation, dtype=np.float64) for path in args.models]
    forms = [m.layers() for m in models]
    fd = schemes.build(args.scheme, args.nx, args.nu, args.boundary, args.cfl, args.r, args.t_end)
    rng = np.random.default_rng(args.seed)
    n_in = forms[0].n_in
    probes = rng.uniform(0.0, 1.0, (args.probes, n_in))
    if n_in == 2:
        x0, x1, t0, t1 = args.box
        probes = np.array([x0, t0]) + probes * np.array([x1 - x0, t1 - t0])
    baseline = None
    if not args.no_baseline and len(models) > 1 and isinstance(models[0], MLP):
        config = dict(models[0].config(), init="glorot_uniform")
        baseline = [MLP(**dict(config, seed=args.seed + k)).layers() for k in range(len(models))]
    label = type(models[0]).__name__
    print(f"compare: measuring {len(forms[0].blocks)} layer(s) of "
          f"{len(models)} {label} run(s){' and their baseline' if baseline else ''}, {args.probes} probes, against "
          f"{args.scheme} (nx = {fd.info['nx']}, {fd.info['nsteps']} steps; memory about {format_bytes(need)}"
          + (f" of {format_bytes(free)} available" if free else "") + ") ...", file=sys.stderr, flush=True)
    result = report.build_report(forms, fd, probes, baseline, args.band, args.keep,
                                 extra=model_fixed_point_operators(models[0]), label=label)
    print(f"compare: measured in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    setup = dict(fd.info, models=[str(p) for p in args.models], model=label, activation=args.activation,
                 probes=args.probes, box=list(args.box), seed=args.seed,
                 baseline="glorot_uniform untrained" if baseline else None)
    nparams = sum(int(p.size) for p in models[0].params)
    info = fd.info
    print(f"{len(models)} run(s) of {label} ({nparams} parameters) against {args.scheme}: nx = {info['nx']}, "
          f"dx = {info['dx']:.4g}, dt = {info['dt']:.4g}, {info['nsteps']} steps, {info['boundary']}")
    print(report.report_text(result))
    if args.json:
        io.write_json(args.json, report.report_json(result, setup))
        print(f"wrote {args.json}")
    if args.markdown:
        io.write_text(args.markdown, report.report_text(result, report.render_markdown))
        print(f"wrote {args.markdown}")
    if args.plots:
        paths = report.write_plots(args.plots, result["model"], result["fd"], result["dynamics"], label)
        print("wrote " + ", ".join(str(p) for p in paths))
