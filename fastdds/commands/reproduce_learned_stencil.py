"""``fastdds reproduce learned-stencil``: banded-layer Chains fitted to fastdds' advection-diffusion
and viscous Burgers trajectories recover nu and the speed from their row moments (the study is
`fastdds.nn.learned_stencil_study`)."""

from ._common import output_dir


def register(subparsers):
    text = "learned stencils recover nu and the advection speed from FD trajectories (row moments)"
    p = subparsers.add_parser("learned-stencil", help=text, description=text)
    p.add_argument("--quick", action="store_true", help="smaller data and fewer rows (a few seconds)")
    p.add_argument("--out", type=output_dir, default="runs/learned-stencil",
                   help="output folder for results.json and results.md (default runs/learned-stencil)")
    p.add_argument("--resume", action="store_true", help="keep the rows finished by an interrupted run in --out")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors (the files are still written)")
    p.add_argument("--no-progress", action="store_true", help="no progress line")
    p.set_defaults(func=run)


def run(args):
    from fastdds.nn.learned_stencil_study import reproduce

    result = reproduce(args.out, quick=args.quick, progress=not (args.no_progress or args.quiet),
                        resume=args.resume)
    if not args.quiet:
        print(result["markdown"])
        print("written " + " and ".join(result["written"]))
    return 0
