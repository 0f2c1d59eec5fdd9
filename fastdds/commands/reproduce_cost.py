"""``fastdds reproduce cost``: PINN against FD in time (and FLOPs) to an L2 error of 1e-2, 1e-3, 1e-4."""

from ._common import add_backend_options, apply_backend_options, output_dir, positive

PROBLEMS = ("burgers-viscous", "raissi-burgers", "burgers-inviscid", "eikonal")
TEXT = ("time to accuracy at t = 0.3: FD over a grid refinement against a PINN along its training, for "
        "viscous Burgers (Ganguly et al. and Raissi et al.), inviscid Burgers and Eikonal")


def register(subparsers):
    p = subparsers.add_parser("cost", help=TEXT, description=TEXT)
    p.add_argument("--quick", action="store_true",
                   help="small FD budget and short PINN runs (about a minute on 2 cores; the PINNs reach no threshold)")
    p.add_argument("--out", type=output_dir, default="runs/cost",
                   help="output folder (default runs/cost): cost.json, cost.png, the PINN runs under pinn/")
    p.add_argument("--problems", nargs="+", choices=PROBLEMS, default=None, metavar="PROBLEM",
                   help=f"subset of the problems ({', '.join(PROBLEMS)}; default all)")
    p.add_argument("--fd-seconds", type=positive, default=None, metavar="S",
                   help="longest FD run of a refinement [s] (default 0.2 quick, 10 full)")
    p.add_argument("--plots", action="store_true", help="write the error-against-time figure (needs matplotlib)")
    p.add_argument("--resume", action="store_true",
                   help="reuse finished PINN runs and continue an interrupted one from its checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress lines and no per-run tables; the table only")
    p.add_argument("--no-progress", action="store_true", help="no progress lines")
    add_backend_options(p, gpu=False)
    p.set_defaults(func=run)


def run(args):
    from fastdds.analysis.time_to_accuracy import reproduce_cost

    dtype = apply_backend_options(args)
    quiet = args.quiet

    def log(text):
        if not quiet or text.startswith("time to accuracy"):
            print(text)

    reproduce_cost(quick=args.quick, out=args.out, resume=args.resume, dtype=dtype,
                   progress=not (quiet or args.no_progress), log=log,
                   plots=args.plots, problems=args.problems, fd_seconds=args.fd_seconds)
