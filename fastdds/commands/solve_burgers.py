"""``fastdds solve burgers``: a conservative FD/FV scheme for Burgers' equation, with errors against
the exact reference (Cole-Hopf for the viscous problems, the entropy solution for Riemann data)."""

from ._common import add_backend_options, apply_backend_options, count, finite, nonnegative, output_file, positive

PROBLEMS = {  # domain, default viscosity
    "sin2pi": ((0.0, 1.0), 0.01 / 3.141592653589793),
    "raissi": ((-1.0, 1.0), 0.01 / 3.141592653589793),
    "riemann": ((0.0, 1.0), 0.0),
}


# the names of fastdds.pde.burgers.PRESETS, FLUXES, LIMITERS, RK (listed here so that `fastdds --help` stays fast;
# a test holds them equal)
SCHEMES = ("central", "eo", "lf", "muscl-rk2", "muscl-rk3", "rusanov", "upwind")
FLUXES = ("central", "eo", "lf", "rusanov", "upwind")
LIMITERS = ("minmod", "none", "vanleer")
RKS = ("euler", "ssp-rk2", "ssp-rk3")
PIECE_SECONDS = 0.2
"""Target length of one kernel call: a signal stops the run at the end of the call in hand."""
SLOW_NODE_STEP = 2e-8
"""Seconds per node-step assumed to size the kernel calls: about 5x the muscl-rk3 float64 time of a
2-core Zen 3 (loaded), so that calls stay under PIECE_SECONDS on slower machines too."""


def register(subparsers):
    p = subparsers.add_parser("burgers", help="viscous / inviscid Burgers with a conservative scheme",
                              description="Solve u_t + (u^2/2)_x = nu u_xx with zero (or Riemann) Dirichlet ends "
                                          "and report L1 / L2 / Linf errors against the exact solution. x, t and u "
                                          "are the PDE's own (dimensionless) units. Prints the run's size (nodes, "
                                          "steps, memory) and an estimate of its time before it starts; Ctrl-C or "
                                          "SIGTERM stops it within a fraction of a second, saving --checkpoint.")
    p.add_argument("--ic", choices=sorted(PROBLEMS), default="sin2pi",
                   help="sin2pi: sin(2 pi x) on [0,1]; raissi: -sin(pi x) on [-1,1]; riemann: ul | ur at x0 on [0,1]")
    p.add_argument("--nu", type=nonnegative, default=None,
                   help="viscosity [x^2 / t] (default 0.01/pi; riemann: 0)")
    p.add_argument("--scheme", choices=SCHEMES, default="muscl-rk3", help="one of %(choices)s (default %(default)s)")
    p.add_argument("--flux", choices=FLUXES, default=None, help="override the scheme's flux: %(choices)s")
    p.add_argument("--limiter", choices=LIMITERS, default=None, help="override the limiter: %(choices)s")
    p.add_argument("--rk", choices=RKS, default=None, help="override the time stepper: %(choices)s")
    p.add_argument("--nx", type=count, default=2001, help="grid nodes including both ends [count] (default 2001)")
    p.add_argument("--t-end", "--t", type=positive, default=0.3,
                   help="final time [t] (default 0.3); --t is a deprecated alias")
    p.add_argument("--cfl", type=positive, default=0.9,
                   help="time step as a fraction of the largest stable one [dimensionless] (default 0.9)")
    p.add_argument("--ul", type=finite, default=1.0, help="riemann: left state [u] (default 1)")
    p.add_argument("--ur", type=finite, default=0.0, help="riemann: right state [u] (default 0)")
    p.add_argument("--x0", type=finite, default=0.5,
                   help="riemann: initial jump position [x], inside the domain (0, 1) (default 0.5)")
    p.add_argument("--chunks", type=count, default=20,
                   help="checkpoints written per run [count] (default 20); the progress line updates more often")
    p.add_argument("--checkpoint", type=output_file, default=None,
                   help="save the state atomically to this .npz --chunks times per run and when stopped by a signal")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--json", type=output_file, default=None, help="write grid, solution, errors, steps, run time (wall_s) and compile time (compile_s) here")
    p.add_argument("--no-progress", action="store_true", help="no progress line")
    p.add_argument("--quiet", action="store_true",
                   help="print the result only: no progress line, no size and time estimate")
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


OPTIONS = ("ic", "nu", "scheme", "flux", "limiter", "rk", "nx", "t_end", "cfl", "ul", "ur", "x0", "dtype")
"""The options that define a run: a checkpoint resumes only a run with the same values."""


def memory_needed(nx, dtype, json=False):
    """Estimated peak memory of a run (bytes): the grid, the initial and exact data in float64, the
    state and the kernel's three work rows in `dtype`, and the JSON text and its Python lists."""
    import numpy as np

    return nx * (48 + 4 * np.dtype(dtype).itemsize + (200 if json else 0))


def steps_needed(scheme, dx, t_end, nu, cfl, umax):
    """The number of steps `fastdds.pde.burgers.solve` takes to t_end (None where no step limit applies)."""
    import math

    from fastdds.pde import burgers as B

    dt_max = B.max_stable_dt(scheme, dx, nu, umax)
    if not (math.isfinite(dt_max) and dt_max > 0):
        return None
    return max(1, math.ceil(t_end / (cfl * dt_max) - 1e-9))


def run(args):
    import math
    import sys
    import time

    import numpy as np

    from fastdds import backend
    from fastdds.io import load_checkpoint, save_checkpoint, write_json
    from fastdds.norms import error_norms
    from fastdds.pde import burgers as B
    from fastdds.progress import Progress
    from fastdds.validation import check_memory, format_bytes

    from ._common import StopFlag, duration

    dtype = apply_backend_options(args)
    (lo, hi), nu_default = PROBLEMS[args.ic]
    nu = nu_default if args.nu is None else args.nu
    if args.nx < 3:
        raise ValueError(f"--nx {args.nx}: need at least 3 nodes")
    if args.ic == "riemann" and not lo < args.x0 < hi:
        raise ValueError(f"--x0 {args.x0} is outside the domain ({lo:g}, {hi:g}) of --ic riemann; "
                         f"give {lo:g} < x0 < {hi:g}")
    if args.resume and not args.checkpoint:
        raise ValueError("--resume needs --checkpoint PATH")
    scheme = B.get_scheme(args.scheme, args.flux, args.limiter, args.rk)
    need = memory_needed(args.nx, dtype, bool(args.json))
    free = check_memory(need, f"solve burgers --nx {args.nx} ({np.dtype(dtype)}{', --json' if args.json else ''})",
                        "lower --nx" + (" or drop --json" if args.json else ""))
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
    umax = max(float(np.abs(u0[1:-1]).max()), abs(left), abs(right))
    nsteps = steps_needed(scheme, dx, args.t_end, nu, args.cfl, umax) or 1
    done0 = start[0] if start else 0
    def note(text):
        if not args.quiet:
            print(text, file=sys.stderr, flush=True)

    note(f"burgers {args.ic} {args.scheme}: {args.nx:,} nodes x {nsteps:,} steps"
         + (f" ({done0:,} done)" if done0 else "")
         + f" = {args.nx * nsteps:.3g} node-steps (about {duration(args.nx * (nsteps - done0) / 1e8)} at 1e8 a "
           f"second); memory about {format_bytes(need)}" + (f" of {format_bytes(free)} available" if free else ""))
    u0 = backend.xp().asarray(u0)  # on the --backend device
    compile_s = B.compile_kernel(scheme, dtype, like=u0)
    note(f"  compiled in {compile_s:.2f} s")
    pieces = max(args.chunks, math.ceil(SLOW_NODE_STEP * args.nx * nsteps / PIECE_SECONDS))
    bar = Progress(nsteps, desc=f"burgers {args.ic} {args.scheme}", enabled=not (args.no_progress or args.quiet),
                   start=done0)
    t0 = time.perf_counter()
    saved, told = [done0 * args.chunks // nsteps], []

    def save(step, total, u):
        save_checkpoint(args.checkpoint, {"u": u}, {"step": step, "nsteps": total, "options": options,
                                                    "wall": wall0 + time.perf_counter() - t0})

    def piece_done(step, total, u):
        if not told and step < total:
            told.append(True)
            per = (time.perf_counter() - t0) / (args.nx * (step - done0))
            note(f"  estimated run time {duration(per * args.nx * (total - done0))} ({1 / per:.3g} node-steps/s "
                 f"in the first {step - done0:,} steps); Ctrl-C stops it within about "
                 f"{duration(per * args.nx * max(1, math.ceil(total / min(pieces, total))))}")
        bar.total = total
        bar.update(step)
        mark = step * args.chunks // total
        if args.checkpoint and (mark > saved[0] or stop.signal):
            save(step, total, u)
            saved[0] = mark
        if stop.signal:
            bar.close()
            print(f"stopped at step {step:,} of {total:,}; " +
                  (f"checkpoint {args.checkpoint} written: the same command with --resume continues the run"
                   if args.checkpoint else "nothing saved (give --checkpoint PATH to be able to resume)"),
                  file=sys.stderr)
            raise KeyboardInterrupt

    with StopFlag() as stop:
        res = B.solve(u0, dx, args.t_end, nu, scheme, cfl=args.cfl,
                      boundary="dirichlet", left=left, right=right, chunks=pieces, callback=piece_done, start=start)
    bar.close()
    u, nsteps, dt, t_end, wall = backend.to_numpy(res.u), res.nsteps, res.dt, res.t, wall0 + res.wall
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
