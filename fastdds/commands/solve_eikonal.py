"""``fastdds solve eikonal``: fast sweeping for distances (point source, box) in 2-D / 3-D, or the
explicit 1-D Hamilton-Jacobi schemes for -u_t + |u_x| - 1 = 0, with errors against the exact
solution."""

from ._common import add_backend_options, apply_backend_options, count, nonnegative, output_file, positive

BOX = ((-0.3, -0.2, -0.25), (0.4, 0.5, 0.35))  # lower and upper corners (first d used)


def register(subparsers):
    p = subparsers.add_parser("eikonal", help="Eikonal: fast sweeping (point, box) or the 1-D HJ schemes (time1d)",
                              description="point: distance to the node nearest the origin of [-1,1]^d; box: signed "
                                          "distance to a box from its level set; time1d: -u_t + |u_x| - 1 = 0 on "
                                          "[-1,1] x [0,1] stepped from u(1,x) = 0 to t = 0. Reports L1 = mean|e|, "
                                          "L2 = RMS(e), Linf = max|e| against the exact solution.")
    p.add_argument("--problem", choices=("point", "box", "time1d"), default="point",
                   help="one of %(choices)s (default %(default)s)")
    p.add_argument("--nx", "--n", type=count, default=1001,
                   help="nodes per axis, ends included [count] (default 1001); --n is a deprecated alias")
    p.add_argument("--dim", type=int, choices=(2, 3), default=2,
                   help="point / box: dimension [count], 2 or 3 (default 2)")
    p.add_argument("--order", type=int, choices=(1, 2), default=2,
                   help="point / box: sweeping order [dimensionless], 1 or 2 (default 2, as scikit-fmm and "
                        "fastdds.pde.eikonal.distance)")
    p.add_argument("--source-radius", type=nonnegative, default=0.0,
                   help="point: exact distances within this radius of the source [x] (point-source correction; "
                        "default 0, off)")
    p.add_argument("--scheme", choices=("godunov", "lax_friedrichs"), default="godunov",
                   help="time1d: numerical Hamiltonian, %(choices)s (default godunov)")
    p.add_argument("--cfl", type=positive, default=0.9,
                   help="time1d: fraction of the largest stable step [dimensionless] (default 0.9)")
    p.add_argument("--alpha", type=positive, default=1.0,
                   help="time1d: Lax-Friedrichs dissipation speed >= 1 [x / t] (default 1)")
    p.add_argument("--max-output", type=count, default=250_000,
                   help="largest solution written to --json [values]; bigger grids are written with a stride "
                        "(default 250000)")
    p.add_argument("--json", type=output_file, default=None, help="write grid, solution, errors, sweeps/steps and wall time here")
    p.add_argument("--no-progress", action="store_true", help="no progress line (shown on grids whose sweeps take a while)")
    add_backend_options(p)
    p.set_defaults(func=run)


def level_set(problem, n, dim, dtype):
    """The point or box problem on n nodes per axis of [-1, 1]^dim: (h, phi of `dtype`, exact distance in float64)."""
    import numpy as np

    from fastdds.exact.eikonal import distance_to_box, distance_to_points, grid_coordinates

    h = 2.0 / (n - 1)
    coords = grid_coordinates((n,) * dim, h, -1.0)
    if problem == "point":
        centre = (n - 1) // 2
        exact = distance_to_points(coords, [c[(centre,) * dim] for c in coords])
        phi = np.ones((n,) * dim, dtype=dtype)
        phi[(centre,) * dim] = 0.0
    else:
        exact = distance_to_box(coords, BOX[0][:dim], BOX[1][:dim], signed=True)
        phi = exact.astype(dtype)
    return h, phi, exact


def solve_grid(problem, n, dim, order, dtype, source_radius=0.0, progress=False):
    """Solve the point or box problem; return (h, u, exact, info, seconds), the seconds not counting the
    compile (done first on a 9-node-per-axis grid of the same problem, dimension and dtype). With
    `progress`, a line on stderr counts the sweeps (shown on grids whose sweeps take a while). On
    the gpu backend phi goes to the device and the sweeps run there; u comes back as NumPy."""
    import time

    from fastdds import backend
    from fastdds.pde.eikonal import distance
    from fastdds.progress import Progress

    xp = backend.xp()
    _, small, _ = level_set(problem, 9, dim, dtype)
    distance(xp.asarray(small), 0.25, order=order, source_radius=source_radius)  # compile outside the timing
    h, phi, exact = level_set(problem, n, dim, dtype)
    phi = xp.asarray(phi)
    bar = Progress(None, desc=f"eikonal {problem} sweeps", enabled=progress)
    t0 = time.perf_counter()
    u, info = distance(phi, h, order=order, source_radius=source_radius, return_info=True,
                       callback=lambda sweeps, most: bar.update(sweeps))
    bar.close()
    seconds = time.perf_counter() - t0
    return h, (backend.to_numpy(u) if backend.is_gpu_array(u) else u), exact, info, seconds


def memory_needed(nx, dim, dtype):
    """Estimated peak memory of a point / box solve (bytes): per cell the d coordinate arrays, the exact
    distance and two error temporaries in float64, and five arrays of `dtype` (level set, solution and
    the sweeper's work), measured at about 90 bytes a cell in 2-D float64."""
    import numpy as np

    return nx ** dim * (8 * (dim + 3) + 5 * np.dtype(dtype).itemsize + 2)


def run(args):
    import math
    import sys
    import time

    import numpy as np

    from fastdds import backend, io
    from fastdds.exact.eikonal import eikonal_time_1d
    from fastdds.norms import error_norms
    from fastdds.pde.eikonal import hj1d_solve
    from fastdds.validation import check_memory, format_bytes

    dtype = apply_backend_options(args)
    n = args.nx
    if n < 3:
        raise ValueError(f"--nx must be at least 3; got {n}")
    result = {"problem": args.problem, "n": n, "dtype": str(dtype)}
    if args.problem == "time1d":
        if backend.get_backend() == "gpu":
            raise ValueError("--problem time1d runs on the cpu backend only (its kernel has no GPU caller); "
                             "drop --backend gpu")
        print(f"eikonal time1d {args.scheme}: {n:,} nodes", file=sys.stderr, flush=True)
        hj1d_solve(min(n, 11), args.scheme, args.cfl, dtype=dtype, alpha=args.alpha)  # compile
        t0 = time.perf_counter()
        x, u, nsteps = hj1d_solve(n, args.scheme, args.cfl, dtype=dtype, alpha=args.alpha)
        seconds = time.perf_counter() - t0
        err = error_norms(u, eikonal_time_1d(x, 0.0))
        result.update(scheme=args.scheme, alpha=args.alpha, cfl=args.cfl, t_final=0.0, steps=nsteps,
                      dt=1.0 / nsteps, x=x, solution=u)
        summary = f"time1d {args.scheme}: n = {n}, {nsteps} steps"
        rate = f"{n * nsteps / max(seconds, 1e-9):.3g} node-steps/s"
    else:
        if args.dim == 3 and n > 301:
            raise ValueError(f"--nx {n} in 3-D means {n ** 3:,} cells; use --nx 301 or less")
        if args.source_radius < 0 or (args.source_radius > 0 and args.problem != "point"):
            raise ValueError(f"--source-radius must be >= 0 and is for --problem point; got {args.source_radius}")
        need = memory_needed(n, args.dim, dtype)
        free = check_memory(need, f"solve eikonal --nx {n} --dim {args.dim} ({n ** args.dim:,} cells, {dtype})",
                            "lower --nx")
        print(f"eikonal {args.problem} {args.dim}-D: {n ** args.dim:,} cells; memory about {format_bytes(need)}"
              + (f" of {format_bytes(free)} available" if free else ""), file=sys.stderr, flush=True)
        h, u, exact, info, seconds = solve_grid(args.problem, n, args.dim, args.order, dtype, args.source_radius,
                                                not args.no_progress)
        err = error_norms(u, exact)
        stride = max(1, math.ceil((u.size / args.max_output) ** (1.0 / u.ndim)))
        sub = (slice(None, None, stride),) * u.ndim
        result.update(dim=args.dim, order=args.order, source_radius=args.source_radius, h=h, sweeps=info.sweeps,
                      converged=info.converged,
                      grid={"lower": -1.0, "upper": 1.0, "nodes_per_axis": n},
                      solution_stride=stride, solution=np.asarray(u)[sub])
        summary = (f"{args.problem} {args.dim}-D order {args.order}: n = {n}, {info.sweeps} sweeps"
                   + ("" if info.converged else " (not converged)"))
        rate = f"{u.size * info.sweeps / max(seconds, 1e-9):.3g} cell-sweeps/s"
    result.update(errors=err, seconds=seconds)
    print(f"{summary}, {seconds:.3f} s ({rate}); L1 {err['L1']:.3e}  L2 {err['L2']:.3e}  Linf {err['Linf']:.3e}")
    if args.json:
        io.write_json(args.json, result)
        print(f"wrote {args.json}")
