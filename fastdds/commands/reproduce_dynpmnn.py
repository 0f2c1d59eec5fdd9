"""``fastdds reproduce dynpmnn``: the California Housing study of Felipe-Sosa et al. (DynPMNN,
NODE, CfC, MLP) with fastdds' FHN networks and a gradient-boosting reference; the study itself is
`fastdds.nn.reproduce`.
"""

from ._common import announce, count, output_dir


# the keys of fastdds.nn.reproduce.models() (listed here so that `fastdds --help` stays fast; a test holds them equal)
MODEL_KEYS = ("dynpmnn", "dynpmnn_stable", "fhnnet", "fhnnet_deep", "fhnnet_published", "cfc", "mlp", "hgb", "node")


def register(subparsers):
    p = subparsers.add_parser("dynpmnn", help="DynPMNN vs NODE / CfC / MLP on California Housing (Felipe-Sosa et al.)")
    p.add_argument("--runs", "--seeds", type=count, default=5,
                   help="independent runs per model [count] (default 5): run k uses seed k - 1, so seeds "
                        "0..RUNS-1 (the PINN setups count seeds from 1); --seeds is a deprecated alias")
    p.add_argument("--quick", action="store_true",
                   help="CI smoke run: 2 epochs, 1 seed, smaller NODE / CfC / MLP (flagged in the table)")
    p.add_argument("--out", type=output_dir, default="runs/dynpmnn", help="output folder (default runs/dynpmnn)")
    p.add_argument("--resume", action="store_true", help="skip finished runs, continue interrupted ones")
    p.add_argument("--data", default=None,
                   help="StatLib cal_housing file (.csv/.csv.gz/.data) or its folder (default: $FASTDDS_DATA, "
                        "else scikit-learn's fetch_california_housing)")
    p.add_argument("--models", default=None,
                   help="comma-separated subset of: " + ", ".join(MODEL_KEYS) +
                        "; KEY:N runs N seeds of that model instead of --runs (e.g. node:2)")
    p.add_argument("--epochs", type=count, default=None, help="override the epoch limit [count] (default 100, quick 2)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args):
    from fastdds.datasets import check_published
    from fastdds.nn.reproduce import PROTOCOL, QUICK_EPOCHS, plan, reproduce
    from fastdds.parallel import map_runs

    keys = args.models.split(",") if args.models else None
    jobs = plan(keys, args.runs, args.quick)
    source = check_published(args.data)
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else f"at most {PROTOCOL['epochs']} (early stopping)")
    announce(f"reproduce dynpmnn{' (quick)' if args.quick else ''}: {sum(n for _, n in jobs)} run(s): "
             + ", ".join(f"{k} x{n} (seeds 0..{n - 1})" for k, n in jobs) + f"; epochs: {epochs}; data: {source}")
    result = reproduce(args.out, args.data, seeds=args.runs, quick=args.quick,
                       keys=keys, epochs=args.epochs, resume=args.resume,
                       progress=not args.no_progress, map_runs=map_runs())
    if result is None:  # an MPI rank other than 0: rank 0 prints and writes
        return 0
    for reason in result["skipped"]:
        print(f"skipped {reason}")
    print(result["markdown"])
    print("written " + " and ".join(result["written"]))
