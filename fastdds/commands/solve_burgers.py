"""``fastdds solve burgers``: a conservative FD/FV scheme for Burgers' equation, with errors against
the exact reference (Cole-Hopf for the viscous problems, the entropy solution for Riemann data)."""

from ._common import add_backend_options, apply_backend_options, count, finite, nonnegative, output_file, positive

PROBLEMS = {  # domain, default viscosity
    "sin2pi": ((0.0, 1.0), 0.01 / 3.141592653589793),
    "raissi": ((-1.0, 1.0), 0.01 / 3.141592653589793),
    "riemann": ((0.0, 1.0), 0.0),
}


def register(subparsers):
    p = subparsers.add_parser("burgers", help="viscous / inviscid Burgers with a conservative scheme",
                              description="Solve u_t + (u^2/2)_x = nu u_xx with zero (or Riemann) Dirichlet ends "
                                          "and report L1 / L2 / Linf errors against the exact solution.")
    p.add_argument("--ic", choices=sorted(PROBLEMS), default="sin2pi",
                   help="sin2pi: sin(2 pi x) on [0,1]; raissi: -sin(pi x) on [-1,1]; riemann: ul | ur at x0 on [0,1]")
    p.add_argument("--nu", type=nonnegative, default=None, help="viscosity (default 0.01/pi; riemann: 0)")
    p.add_argument("--scheme", default="muscl-rk3",
                   help="lf, rusanov, eo, central, upwind, muscl-rk2, muscl-rk3 (default)")
    p.add_argument("--flux", default=None, help="override the scheme's flux (lf, rusanov, eo, central, upwind)")
    p.add_argument("--limiter", default=None, help="override the limiter (none, minmod, vanleer)")
    p.add_argument("--rk", default=None, help="override the time stepper (euler, ssp-rk2, ssp-rk3)")
    p.add_argument("--nx", type=count, default=2001, help="grid nodes including both ends (default 2001)")
    p.add_argument("--t", type=positive, default=0.3, help="final time (default 0.3)")
    p.add_argument("--cfl", type=positive, default=0.9, help="fraction of the largest stable step (default 0.9)")
    p.add_argument("--ul", type=finite, default=1.0, help="riemann: left state (default 1)")
    p.add_argument("--ur", type=finite, default=0.0, help="riemann: right state (default 0)")
    p.add_argument("--x0", type=finite, default=0.5, help="riemann: initial jump position (default 0.5)")
    p.add_argument("--chunks", type=count, default=20, help="progress / checkpoint updates per run (default 20)")
    p.add_argument("--checkpoint", type=output_file, default=None, help="save the state atomically to this .npz after each chunk")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--json", type=output_file, default=None, help="write grid, solution, errors, steps, run time (wall_s) and compile time (compile_s) here")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    add_backend_options(p)
    p.set_defaults(func=run)


def initial_condition(ic, x, ul=1.0, ur=0.0, x0=0.5):
    """u(x, 0) of a named problem (x: ndarray, float64)."""
    import numpy as np

    from fastdds.exact.burgers import riemann

    if ic == "sin2pi":
        return np.sin(2 * np.pi * x)
    if ic == "raissi":
        return -np.sin(np.pi * x)
    return riemann(x, 0.0, ul, ur, x0)


def exact_solution(ic, x, t, nu, ul=1.0, ur=0.0, x0=0.5):
    """The exact reference at time t, or None where there is none (viscous Riemann data)."""
    from fastdds.exact.burgers import burgers_raissi, burgers_sin2pi, riemann

    if ic == "riemann":
        return riemann(x, t, ul, ur, x0) if nu == 0 else None
    if nu <= 0:
        return None
    return (burgers_sin2pi if ic == "sin2pi" else burgers_raissi)(x, t, nu)


OPTIONS = ("ic", "nu", "scheme", "flux", "limiter", "rk", "nx", "t", "cfl", "ul", "ur", "x0", "dtype")
"""The options that define a run: a checkpoint resumes only a run with the same values."""


def run(args):
    import time

    import numpy as np

    from fastdds.io import load_checkpoint, save_checkpoint, write_json
    from fastdds.norms import error_norms
    from fastdds.pde import burgers as B
    from fastdds.progress import Progress

    dtype = apply_backend_options(args)
    (lo, hi), nu_default = PROBLEMS[args.ic]
    nu = nu_default if args.nu is None else args.nu
    if args.nx < 3:
        raise ValueError(f"--nx {args.nx}: need at least 3 nodes")
    if args.resume and not args.checkpoint:
        raise ValueError("--resume needs --checkpoint PATH")
    scheme = B.get_scheme(args.scheme, args.flux, args.limiter, args.rk)
    x = np.linspace(lo, hi, args.nx)
    dx = (hi - lo) / (args.nx - 1)
    left, right = (args.ul, args.ur) if args.ic == "riemann" else (0.0, 0.0)
    u0 = initial_condition(args.ic, x, args.ul, args.ur, args.x0).astype(dtype)
    options = {k: getattr(args, k) for k in OPTIONS}
    start, wall0 = None, 0.0
    if args.resume:
        arrays, meta = load_checkpoint(args.checkpoint)
        if meta.get("options") != options:
            raise ValueError(f"checkpoint {args.checkpoint} is for a different run ({meta.get('options')}); "
                             f"use the same options or start without --resume")
        start, wall0 = (int(meta["step"]), arrays["u"]), float(meta["wall"])
    compile_s = B.compile_kernel(scheme, dtype)
    bar = Progress(0, desc=f"burgers {args.ic} {args.scheme}", enabled=not args.quiet,
                   start=start[0] if start else 0)
    t0 = time.perf_counter()

    def chunk_done(step, nsteps, u):
        bar.total = nsteps
        bar.update(step)
        if args.checkpoint:
            save_checkpoint(args.checkpoint, {"u": u}, {"step": step, "nsteps": nsteps, "options": options,
                                                        "wall": wall0 + time.perf_counter() - t0})

    res = B.solve(u0, dx, args.t, nu, scheme, cfl=args.cfl, boundary="dirichlet", left=left, right=right,
                  chunks=args.chunks, callback=chunk_done, start=start)
    bar.close()
    u, nsteps, dt, t_end, wall = res.u, res.nsteps, res.dt, res.t, wall0 + res.wall
    ref = exact_solution(args.ic, x, t_end, nu, args.ul, args.ur, args.x0)
    result = {"problem": args.ic, "nu": nu, "scheme": {"name": str(args.scheme), "flux": scheme.flux,
                                                      "limiter": scheme.limiter, "rk": scheme.rk},
              "dtype": str(np.dtype(dtype)), "nx": args.nx, "dx": dx, "t": t_end, "dt": dt, "steps": nsteps,
              "cfl": args.cfl, "wall_s": wall, "compile_s": compile_s, "x": x, "u": u}
    if ref is not None:
        result["errors"] = error_norms(u, ref)
        result["exact"] = ref
    if args.json:
        write_json(args.json, result)
    errs = result.get("errors")
    err_text = (f"L1 {errs['L1']:.3e}  L2 {errs['L2']:.3e}  Linf {errs['Linf']:.3e}" if errs
                else "no exact reference for viscous Riemann data")
    print(f"burgers {args.ic}  nu={nu:.6g}  {args.scheme} ({scheme.flux}/{scheme.limiter}/{scheme.rk})  "
          f"nx={args.nx}  t={t_end:g}  steps={nsteps}  dt={dt:.3e}  run {wall:.3f} s, compile {compile_s:.2f} s")
    print(f"  errors vs exact: {err_text}" + (f"\n  wrote {args.json}" if args.json else ""))
    return 0
