"""``fastdds reproduce all``: every published setup in turn, then fastdds's own studies (the
README's main job).

Runs the four PINN setups of study A, the California Housing study B, the learned stencils and the
PINN-against-FD cost study through their own subcommands, into OUT/<target>/, and stops at the
first failure. Its inputs (the California
Housing file: found, readable, every cell a number, the published 20,640 rows) are checked before
the first run, so a bad file fails at once rather than after the PINN studies.
"""

from ._common import count, output_dir


PINN_TARGETS = ("burgers-viscous", "burgers-inviscid", "eikonal", "raissi-burgers")


def register(subparsers):
    p = subparsers.add_parser("all", help="every published setup (the four PINN studies, DynPMNN), then the learned stencils and the "
                                        "PINN-against-FD cost study")
    p.add_argument("--quick", action="store_true", help="each setup's reduced schedule, one run each (CI smoke run)")
    p.add_argument("--runs", "--seeds", type=count, default=None,
                   help="independent runs per setup [count] (default 10 per PINN setup, seeds 1..10, and 5 per "
                        "DynPMNN model, seeds 0..4; 1 with --quick); --seeds is a deprecated alias")
    p.add_argument("--out", type=output_dir, default="runs", help="output folder (default runs/)")
    p.add_argument("--data", default=None, help="California Housing file or folder (see `fastdds reproduce dynpmnn`)")
    p.add_argument("--resume", action="store_true", help="continue interrupted setups from their checkpoints")
    p.add_argument("--no-progress", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args):
    from fastdds import cli
    from fastdds.datasets import check_published

    print(f"inputs: California Housing {check_published(args.data)}", flush=True)

    flags = [f for f, on in (("--quick", args.quick), ("--resume", args.resume), ("--no-progress", args.no_progress))
             if on]
    runs = args.runs or (1 if args.quick else None)
    count = ["--runs", str(runs)] if runs else []
    jobs = [["reproduce", t, "--out", f"{args.out}/{t}", *count, *flags] for t in PINN_TARGETS]
    jobs.append(["reproduce", "dynpmnn", "--out", f"{args.out}/dynpmnn", *flags,
                 *(["--runs", str(runs)] if runs else []), *(["--data", args.data] if args.data else [])])
    jobs += [["reproduce", t, "--out", f"{args.out}/{t}", *flags] for t in ("learned-stencil", "cost")]
    print(f"reproduce all: {len(jobs)} setups in turn: " + ", ".join(job[1] for job in jobs) + f", into {args.out}/",
          flush=True)
    for job in jobs:
        print(f"== fastdds {' '.join(job)}", flush=True)
        status = cli.main(job)
        if status:
            return status
    return 0
