"""``fastdds summarize FOLDER... --out OUT``: merge the results of runs made by separate jobs."""

from ._common import output_dir



def register(subparsers):
    p = subparsers.add_parser("summarize", help="merge the result JSON of run folders written by separate jobs",
                              description="Merge the result files (JSON with a 'runs' list) of folders written "
                                          "by separate jobs, e.g. a SLURM job array with --first-seed, into "
                                          "one file per name with the summary recomputed.")
    p.add_argument("folders", nargs="+", help="run folders (each holding e.g. burgers_viscous.json)")
    p.add_argument("--out", type=output_dir, required=True, help="folder to write the merged files into")
    p.set_defaults(func=run)


def run(args):
    from fastdds.parallel.ensemble import numeric_summary, summarize
    from fastdds.pinn.reproduce import summarise

    merged = summarize(args.folders, args.out, summarise=lambda recs: summarise(recs) if "rel_L2" in recs[0]
                       else numeric_summary(recs))
    for name, data in merged.items():
        print(f"{args.out}/{name}: {len(data['runs'])} runs, seeds {[r['seed'] for r in data['runs']]}")
