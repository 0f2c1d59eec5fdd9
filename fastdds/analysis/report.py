"""Tables (text, Markdown, JSON-ready dicts) and figures of an operator comparison.

A table is (headers, rows) with rows of already formatted strings; `render_text` and
`render_markdown` print it. `write_plots` draws the figures with matplotlib (the ``plot`` extra).
"""

from pathlib import Path

import numpy as np

from .. import backend
from ..layers import Layer
from .operator_stats import MEASURES

PLOT_HINT = "plots need matplotlib: pip install 'fastdds[plot]'"


def fmt(value):
    """A table cell: integers in full, floats to 3 significant digits, NaN as '-'."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    v = float(value)
    if not np.isfinite(v):
        return "-"
    if v == 0.0:
        return "0"
    return f"{v:.3g}" if 1e-3 <= abs(v) < 1e5 else f"{v:.2e}"


def operator_table(columns):
    """One column per operator, one row per measure of `MEASURES`.

    Parameters
    ----------
    columns : list of (name, report)
        report: dict from `operator_stats.operator_report`.

    Returns
    -------
    headers : list of str
    rows : list of lists of str
    """
    headers = ["measure"] + [name for name, _ in columns]
    rows = [[key] + [fmt(rep[key]) for _, rep in columns] for key, _ in MEASURES]
    return headers, rows


def cross_run_table(result, baseline=None):
    """Per-layer correlations between runs (mean +- std over pairs) and relative spreads.

    Parameters
    ----------
    result : dict from `cross_run.compare_runs`
    baseline : dict from `cross_run.compare_runs`, optional
        The same measures for a control (e.g. untrained networks); adds its matched columns.

    Returns
    -------
    headers, rows
    """
    def cells(res, l):
        d = res["layers"][l]
        return [f"{fmt(d['raw_mean'])} +- {fmt(d['raw_std'])}", f"{fmt(d['matched_mean'])} +- {fmt(d['matched_std'])}",
                fmt(d["act_corr"]), fmt(d["weight_spread_raw"]), fmt(d["weight_spread_matched"])]

    names = ["corr raw", "corr matched", "act corr matched", "W spread raw", "W spread matched"]
    headers = ["layer"] + names + ([f"init: {n}" for n in names[1:3]] if baseline else [])
    rows = [[f"W{l}"] + cells(result, l) + (cells(baseline, l)[1:3] if baseline else [])
            for l in range(len(result["layers"]))]
    return headers, rows


def cross_run_summary(result, baseline=None):
    """Outputs against weights across runs: 1 - output correlation, relative spreads.

    Returns
    -------
    headers, rows: one column for `result`, one for `baseline` when given.
    """
    def col(res):
        return [fmt(1.0 - res["output_corr_mean"]), fmt(res["output_spread"]), fmt(res["weight_spread_raw"]),
                fmt(res["weight_spread_matched"])]

    names = ["1 - output corr", "output spread", "all-W spread raw", "all-W spread matched"]
    cols = [col(result)] + ([col(baseline)] if baseline else [])
    headers = ["measure", "runs"] + (["init"] if baseline else [])
    return headers, [[n] + [c[k] for c in cols] for k, n in enumerate(names)]


def dynamics_table(columns, max_rows=None):
    """Per depth: state mean, std, spread across runs (raw, matched) and step size.

    Parameters
    ----------
    columns : list of (label, stats)
        stats: dict from `dynamics.depth_statistics`.
    max_rows : int, optional
        At most this many depths per system, evenly spaced (first and last always shown).

    Returns
    -------
    headers, rows (one row per depth of each system, labelled "label l/L").
    """
    headers = ["system", "depth", "width", "mean", "std", "spread", "spread matched", "step"]
    rows = []
    for label, st in columns:
        last = len(st["depth"]) - 1
        shown = range(last + 1) if not max_rows or last < max_rows else np.unique(
            np.linspace(0, last, max_rows).round().astype(int))
        for l in shown:
            rows.append([label, f"{l}/{last}", fmt(int(st["width"][l]))]
                        + [fmt(st[k][l]) for k in ("mean", "std", "spread", "spread_matched", "step")])
    return headers, rows


def render_text(headers, rows, title=None):
    """Fixed-width text table."""
    cols = list(zip(headers, *rows))
    widths = [max(len(c) for c in col) for col in cols]

    def line(cells):
        return "  ".join(c.rjust(w) if k else c.ljust(w) for k, (c, w) in enumerate(zip(cells, widths)))

    out = ([title, ""] if title else []) + [line(headers), "  ".join("-" * w for w in widths)]
    return "\n".join(out + [line(r) for r in rows]) + "\n"


def render_markdown(headers, rows, title=None):
    """GitHub-flavoured Markdown table."""
    out = ([f"### {title}", ""] if title else []) + ["| " + " | ".join(headers) + " |",
                                                      "|" + "---|" * len(headers)]
    return "\n".join(out + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def json_ready(report):
    """The scalar measures of an `operator_report` (arrays dropped, singular values kept)."""
    out = {key: report[key] for key, _ in MEASURES}
    out["singular_values"] = report["singular_values"]
    return out


def pyplot():
    """matplotlib.pyplot with the Agg backend; RuntimeError naming the extra when missing."""
    try:
        import matplotlib
    except ImportError as exc:
        raise RuntimeError(PLOT_HINT) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(folder, model, fd, dyn, label="model"):
    """Write the comparison figures as PNG files.

    Parameters
    ----------
    folder : str or Path
        Created if missing.
    model : list of (name, report)
        Operator reports of one model's layers (`operator_report`).
    fd : list of (name, report)
        Operator reports of the FD scheme's operators.
    dyn : list of (label, stats)
        Layer-wise statistics (`dynamics.depth_statistics`) to draw on one depth axis.
    label : str
        Name of the model in titles and legends.

    Returns
    -------
    list of Path: weights.png, singular_values.png, eigenvalues.png, dynamics.png, moments.png.

    Raises
    ------
    RuntimeError when matplotlib is missing (install the ``plot`` extra).
    """
    plt = pyplot()
    from . import random_matrix

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    square = [(n, r) for n, r in model if r["shape"].split("x")[0] == r["shape"].split("x")[1]]
    mid_name, mid = square[len(square) // 2] if square else model[0]
    fd_name, fd_rep = fd[0]
    paths = []

    def save(fig, name):
        path = folder / name
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)

    panels = [(f"{label} {mid_name}", mid["matrix"]), (f"{label} {mid_name}, RCM order", mid["rcm_matrix"])]
    panels += [(f"FD {name}", rep["matrix"]) for name, rep in fd[:2]]
    fig, ax = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4))
    for a, (title, mat) in zip(ax, panels):
        lim = np.abs(mat).max() or 1.0
        im = a.imshow(mat, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest", aspect="auto")
        a.set_title(title)
        fig.colorbar(im, ax=a, fraction=0.046)
    save(fig, "weights.png")

    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    m, n = (int(v) for v in mid["shape"].split("x"))
    lam = mid["singular_values"] ** 2 / max(m, n)
    ax[0].hist(lam, bins=30, density=True, alpha=0.6, label=f"{label} {mid_name}: s^2/N")
    if np.isfinite(mid["mp_ks"]):
        ratio, s2 = mid["mp_ratio"], mid["mp_sigma2"]
        x = np.linspace(0, s2 * (1 + np.sqrt(ratio)) ** 2 * 1.05, 400)
        ax[0].plot(x, random_matrix.mp_pdf(x, ratio, s2), "k", label=f"Marchenko-Pastur (KS {mid['mp_ks']:.3f})")
    ax[0].set_xlabel("eigenvalue of A A^T / N")
    ax[0].set_ylim(0, 1.5 * np.histogram(lam, bins=30, density=True)[0].max())
    ax[0].legend()
    for name, rep in model:
        ax[1].semilogy(rep["singular_values"] / rep["singular_values"][0], lw=0.8, label=f"{label} {name}")
    for name, rep in fd:
        ax[1].semilogy(rep["singular_values"] / rep["singular_values"][0], "k--", lw=1.2, label=f"FD {name}")
    ax[1].set_xlabel("index")
    ax[1].set_ylabel("s / s_max")
    ax[1].set_ylim(1e-4, 1.5)
    ax[1].legend(fontsize=6, ncol=2)
    save(fig, "singular_values.png")

    fig, ax = plt.subplots(1, 2, figsize=(10, 5))
    t = np.linspace(0, 2 * np.pi, 200)
    for a, (title, rep) in zip(ax, [(f"{label} {mid_name}", mid), (f"FD {fd_name}", fd_rep)]):
        ev = rep.get("eigenvalues")
        if ev is not None:
            a.plot(ev.real, ev.imag, ".", ms=3)
            if np.isfinite(rep["circ_radius"]):
                a.plot(rep["circ_radius"] * np.cos(t), rep["circ_radius"] * np.sin(t), "k",
                       label=f"circular law, inside {rep['circ_inside']:.2f}")
                a.legend()
        a.set_aspect("equal")
        a.set_title(f"{title} eigenvalues")
    save(fig, "eigenvalues.png")

    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    for system, st in dyn:
        ax[0].plot(st["depth"], st["mean"], "o-", ms=3, label=system)
        ax[1].plot(st["depth"], st["std"], "o-", ms=3, label=system)
        ax[2].plot(st["depth"], st["spread_matched"] if np.isfinite(st["spread_matched"]).any() else st["spread"],
                   "o-", ms=3, label=system)
    for a, yl in zip(ax, ["state mean", "state std", "relative spread across runs (matched)"]):
        a.set_xlabel("depth l / L (model layers, or FD time steps)")
        a.set_ylabel(yl)
        a.legend(fontsize=7)
    save(fig, "dynamics.png")

    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    for k, a in enumerate(ax):
        a.plot(mid["moment_profile"][k], lw=0.8, label=f"{label} {mid_name}")
        a.plot(fd_rep["moment_profile"][k], "k", lw=1.2, label=f"FD {fd_name}")
        a.set_title(f"row moment M_{k} (index units)")
        a.set_xlabel("row")
        a.legend(fontsize=7)
    save(fig, "moments.png")
    return paths


def listing_table(listing):
    """One row per block of a layer form (`operator_stats.form_operators`' listing with the
    `dynamics.euler_radii` of its blocks under "radius")."""
    keys = ["position", "kind", "shape", "operators", "activations", "c"]
    headers = ["block", "kind", "shape", "operators", "activations", "constant c", "Euler radius"]
    return headers, [[row[k] for k in keys] + [fmt(row["radius"])] for row in listing]


def build_report(forms, fd, probes, baseline=None, band_width=1, keep=0.1, extra=(), label="model"):
    """Everything `fastdds compare` prints: a model's layer form and an FD scheme's step measured
    alike, the cross-run comparison, and both as dynamical systems.

    Parameters
    ----------
    forms : list over runs of Chain
        Each run's layer form (``model.layers()``); run 1's operators are measured. With two or
        more runs of plain MLP form (`cross_run.mlp_weights`) the runs are compared.
    fd : fastdds.schemes.SchemeStep
        One time step of the FD scheme, its initial state and step count.
    probes : ndarray, shape (n_probes, n_in)
        Model inputs for activation matching and layer-wise states.
    baseline : list over runs of Chain, optional
        Control networks of the same architecture (e.g. untrained), compared across runs too.
    band_width, keep : as in `operator_stats.operator_report`
    extra : list of (name, Operator)
        More operators of run 1 to measure (e.g. `fhn_fixed_point_operators`).
    label : str
        Name of the model in tables and plots.

    Returns
    -------
    dict with label, model, init (the middle layer of baseline run 1, or empty), fd (lists of
    (name, operator_report)), listing and fd_listing (`form_operators` listings, each row with
    the `dynamics.euler_radii` "radius" of its block along the mean probe's / the FD initial
    state's trajectory), cross and baseline (`compare_runs` results, or None), cross_note (why
    there is no cross-run part), dynamics (list of (label, `depth_statistics`)).
    """
    from . import cross_run, dynamics
    from ..layers import Chain
    from .operator_stats import form_operators, operator_report

    def measure(pairs):
        return [(name, operator_report(op, 1.0, 4, band_width, keep)) for name, op in pairs]

    ops, listing = form_operators(forms[0].blocks)
    model = measure(list(ops) + list(extra))
    fd_pairs, fd_listing = form_operators(fd.blocks, "fd")
    fd_ops = measure(fd_pairs)
    cross = base = None
    note = "needs at least 2 weight files of one MLP architecture"
    runs = _mlp_runs(forms, probes) if len(forms) > 1 else None
    if runs is not None:
        cross = cross_run.compare_runs(*runs)
        note = None
        if baseline is not None:
            base = cross_run.compare_runs(*_mlp_runs(baseline, probes))
    init = []
    if base is not None:
        mid = len(baseline[0].blocks) // 2
        init = measure([(f"init.W{mid}", baseline[0].blocks[mid].branches[0].R)])
    if cross is not None:
        model_dyn = dynamics.depth_statistics(cross["states"], cross["alignments"])
    else:
        model_dyn = dynamics.depth_statistics([dynamics.chain_trajectory(forms[0], probes)])
    for rows, blocks, x0 in ((listing, forms[0].blocks, probes.mean(axis=0)), (fd_listing, fd.blocks, fd.u0)):
        for row, radius in zip(rows, dynamics.euler_radii(blocks, x0, [row["first"] for row in rows])):
            row["radius"] = radius
    fd_dyn = dynamics.depth_statistics([dynamics.chain_trajectory(Chain(list(fd.blocks) * int(fd.nsteps)), fd.u0)])
    dyn = [(label, model_dyn), ("FD", fd_dyn)]
    if base is not None:
        dyn.append(("init", dynamics.depth_statistics(base["states"], base["alignments"])))
    return dict(label=label, model=model, init=init, fd=fd_ops, listing=listing, fd_listing=fd_listing, cross=cross,
                baseline=base, cross_note=note, dynamics=dyn)


def _mlp_runs(forms, probes):
    """The runs as lists of MLP-form Layers and the probes those see, or None when a run is not an
    MLP. A leading input map that every run shares (a Layer without branches, e.g. the input
    scaling of `fastdds.nn.mlp.MLP`) is applied to the probes and left out of the lists."""
    from .cross_run import mlp_weights

    runs = [list(f.blocks) for f in forms]
    first = runs[0][0]
    if isinstance(first, Layer) and not first.branches and all(_same_map(r[0], first) for r in runs):
        runs, probes = [r[1:] for r in runs], backend.to_numpy(first(np.asarray(probes, dtype=first.dtype)))
    try:
        for r in runs:
            mlp_weights(r)
    except ValueError:
        return None
    return runs, probes


def _same_map(a, b):
    """Whether two branch-free Layers compute the same affine map (same P and c)."""
    def parts(layer):
        P = None if layer.P is None else backend.to_numpy(layer.P.to_dense())
        return P, None if layer.c is None else backend.to_numpy(layer.c)

    if not (isinstance(a, Layer) and not a.branches and a.n_in == b.n_in and a.n_out == b.n_out):
        return False
    return all((x is None and y is None) or (x is not None and y is not None and np.array_equal(x, y))
               for x, y in zip(parts(a), parts(b)))


def _cross_json(res):
    if res is None:
        return None
    keep = ("layers", "raw", "matched", "signs", "pairs", "output_corr_mean", "output_spread",
            "weight_spread_raw", "weight_spread_matched")
    return {k: res[k] for k in keep}


def report_json(result, setup=None):
    """JSON-ready dict of `build_report`'s result (scalars, pairwise matrices, depth profiles)."""
    ops = result["model"] + result["init"] + result["fd"]
    return dict(setup=setup or {}, operators={name: json_ready(rep) for name, rep in ops},
                layer_form=result["listing"], fd_layer_form=result["fd_listing"],
                cross_run=_cross_json(result["cross"]), baseline=_cross_json(result["baseline"]),
                dynamics={label: st for label, st in result["dynamics"]})


def report_text(result, render=render_text, max_depth_rows=11):
    """The tables of `build_report`'s result, rendered with `render_text` or `render_markdown`."""
    label = result["label"]
    parts = [render(*listing_table(result["listing"]), title=f"Layer form of {label} (run 1)"),
             render(*listing_table(result["fd_listing"]), title="Layer form of one FD time step"),
             render(*operator_table(result["model"] + result["init"] + result["fd"]),
                    title=f"Operators: {label} layers (run 1, index units)"
                          + (", an untrained (Glorot) layer" if result["init"] else "")
                          + " and the FD step operators")]
    if result["cross"] is not None:
        parts.append(render(*cross_run_table(result["cross"], result["baseline"]),
                            title=f"Across runs ({result['cross']['pairs']} pairs; matched = Hungarian on "
                                  f"activations{', sign flips allowed' if result['cross']['signs'] else ''})"))
        parts.append(render(*cross_run_summary(result["cross"], result["baseline"]),
                            title="Outputs against weights across runs (spread = RMS std across runs / RMS value)"))
    else:
        parts.append(f"Across runs: {result['cross_note']}.\n")
    parts.append(render(*dynamics_table(result["dynamics"], max_depth_rows),
                        title=f"Layer-wise dynamics ({label} depth and FD time steps on one axis l/L)"))
    return "\n".join(parts)
