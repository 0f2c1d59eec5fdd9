"""``fastdds evaluate WEIGHTS.npz --problem NAME``: errors of trained PINN weights against the exact solution."""

from ._common import output_file


PROBLEMS = ("burgers-viscous", "burgers-inviscid", "eikonal", "raissi-burgers")


def register(subparsers):
    p = subparsers.add_parser(
        "evaluate", help="errors of PINN weights (.npz) against the exact solution",
        description="L1 = mean|e|, L2 = RMS(e), Linf = max|e| at t = 0.3 on 100 equispaced x, and the relative "
                    "L2 error over the whole domain. Weight files hold W0..WL (fan_in x fan_out) and b0..bL; "
                    "inputs are (x, t), unscaled (raissi-burgers: rescaled to [-1, 1], as fastdds trains it).")
    p.add_argument("weights", help="weight file (.npz)")
    p.add_argument("--problem", required=True, choices=PROBLEMS, help="the problem the weights solve")
    p.add_argument("--json", type=output_file, default=None, help="also write the metrics to this JSON file")
    p.set_defaults(func=run)


def run(args):
    from fastdds import io
    from fastdds.pinn.reproduce import evaluate

    result = evaluate(args.weights, args.problem)
    print(f"{result['weights']}: {result['problem']}, {result['layers']} ({result['params']} params, "
          f"{result['dtype']})")
    print(f"t = 0.3: L1 {result['L1']:.4e}  L2 {result['L2']:.4e}  Linf {result['Linf']:.4e};  "
          f"relative L2 over the domain {result['rel_L2']:.4e}")
    if args.json:
        io.write_json(args.json, result)
