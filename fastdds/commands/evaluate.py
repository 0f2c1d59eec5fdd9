"""``fastdds evaluate WEIGHTS.npz --problem NAME``: errors of trained PINN weights against the exact solution."""

from ._common import output_file


PROBLEMS = ("burgers-viscous", "burgers-inviscid", "eikonal", "raissi-burgers")


def register(subparsers):
    p = subparsers.add_parser(
        "evaluate", help="errors of PINN weights (.npz) against the exact solution",
        description="L1 = mean|e|, L2 = RMS(e), Linf = max|e| at t = 0.3 on 100 equispaced x, and the relative "
                    "L2 error over the whole domain. Weight files hold W0..WL (fan_in x fan_out) and b0..bL; "
                    "inputs are (x, t), unscaled (raissi-burgers: rescaled to [-1, 1], as fastdds trains it). "
                    "The network must have the published shape of the problem (e.g. 2-20-20-1 for eikonal).")
    p.add_argument("weights", help="weight file (.npz)")
    p.add_argument("--problem", required=True, choices=PROBLEMS,
                   help="the problem the weights solve: " + ", ".join(PROBLEMS))
    p.add_argument("--json", type=output_file, default=None, help="also write the metrics to this JSON file")
    p.set_defaults(func=run)


def _shape(sizes):
    return "-".join(str(s) for s in sizes)


def check_fit(path, problem):
    """Raise ValueError (naming both shapes) unless the weight file at `path` has the network of `problem`;
    return the file's layer widths."""
    from pathlib import Path

    from fastdds.models import weight_file_layers
    from fastdds.pinn.reproduce import TARGETS

    if not Path(path).is_file():
        raise FileNotFoundError(f"no weights file at {path}; give the path of an .npz with arrays W0..WL, b0..bL")
    sizes, _ = weight_file_layers(path)
    want = list(TARGETS[problem].layers)
    if sizes != want:
        fits = [name for name, t in TARGETS.items() if list(t.layers) == sizes]
        raise ValueError(f"{path} holds a {_shape(sizes)} network but --problem {problem} uses a {_shape(want)} "
                         f"network; " + (f"these weights fit --problem {' or '.join(fits)}" if fits else
                                         "give the weights of a network trained for that problem"))
    return sizes


def run(args):
    import sys
    import time

    from fastdds import io
    from fastdds.pinn.reproduce import evaluate

    sizes = check_fit(args.weights, args.problem)
    print(f"evaluating {args.weights} ({_shape(sizes)}) on {args.problem} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    result = evaluate(args.weights, args.problem)
    print(f"{result['weights']}: {result['problem']}, {result['layers']} ({result['params']} params, "
          f"{result['dtype']}), {time.perf_counter() - t0:.2f} s")
    print(f"t = 0.3: L1 {result['L1']:.4e}  L2 {result['L2']:.4e}  Linf {result['Linf']:.4e};  "
          f"relative L2 over the domain {result['rel_L2']:.4e}")
    if args.json:
        io.write_json(args.json, result)
