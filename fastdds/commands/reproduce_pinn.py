"""``fastdds reproduce burgers-viscous | burgers-inviscid | eikonal | raissi-burgers``: the published PINN runs."""

from ._common import add_backend_options, announce, apply_backend_options, count, output_dir

TARGETS = {
    "burgers-viscous": "viscous Burgers, sin(2 pi x): 2-8x100-1 tanh, Adam 30k + L-BFGS 1k (Ganguly et al.)",
    "burgers-inviscid": "inviscid Burgers, Riemann shock: same network and schedule (Ganguly et al.)",
    "eikonal": "time-dependent Eikonal: 2-20-20-1 LeakyReLU, Adam 1e-1/1e-2/1e-3, 10k steps (Ganguly et al.)",
    "raissi-burgers": "Raissi et al. (2019) Burgers: 2-8x20-1 tanh, scaled inputs, L-BFGS only",
}


def register(subparsers):
    for name, text in TARGETS.items():
        p = subparsers.add_parser(name, help=text, description=text)
        p.add_argument("--runs", "--seeds", type=count, default=10,
                       help="independent runs [count] (default 10): run k uses seed FIRST + k - 1, so seeds "
                            "FIRST..FIRST+RUNS-1, 1..10 by default; --seeds is a deprecated alias")
        p.add_argument("--first-seed", type=count, default=1, metavar="FIRST",
                       help="seed of the first run [integer >= 1] (default 1); split runs over processes with "
                            "disjoint ranges")
        p.add_argument("--quick", action="store_true",
                       help="reduced point sets and schedule (same network), under 2 minutes a run on 2 cores")
        p.add_argument("--out", type=output_dir, default=None, help=f"output folder (default runs/{name})")
        p.add_argument("--resume", action="store_true",
                       help="skip finished runs and continue the interrupted one from its checkpoint")
        p.add_argument("--no-progress", action="store_true", help="no progress line")
        add_backend_options(p, gpu=False)
        p.set_defaults(func=run, pinn_target=name)


def run(args):
    from fastdds.parallel import map_runs
    import numpy as np

    from fastdds.pinn.reproduce import get_target, reproduce

    dtype = apply_backend_options(args)
    target = get_target(args.pinn_target, args.quick)
    layers = list(target.layers)
    params = sum(a * b + b for a, b in zip(layers[:-1], layers[1:]))
    points = ", ".join(f"{k.removeprefix('n_')} {v:,}" for k, v in target.sizes.items())
    announce(f"reproduce {args.pinn_target}{' (quick)' if args.quick else ''}: {args.runs} run(s), seeds "
             f"{args.first_seed}..{args.first_seed + args.runs - 1}; {'-'.join(map(str, layers))} {target.activation} "
             f"({params:,} parameters, {np.dtype(dtype)}); Adam {target.adam_steps:,} steps + L-BFGS up to "
             f"{target.lbfgs_maxiter:,} iterations a run; points: {points}")
    reproduce(args.pinn_target, runs=args.runs, quick=args.quick, out=args.out, resume=args.resume, dtype=dtype,
              progress=not args.no_progress, first_seed=args.first_seed, map_runs=map_runs())
