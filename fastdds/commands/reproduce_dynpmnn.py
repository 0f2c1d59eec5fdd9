"""``fastdds reproduce dynpmnn``: the California Housing study of Felipe-Sosa et al. (DynPMNN,
NODE, CfC, MLP; published split and training protocol) plus fastdds' FHN network and
scikit-learn's HistGradientBoostingRegressor as a reference.

Writes OUT/results.json and OUT/results.md (atomically), one JSON per finished run in OUT/runs/
and a checkpoint per run in OUT/checkpoints/ (``--resume`` skips finished runs and continues
interrupted ones).
"""

import time

PUBLISHED = {"DynPMNN": 0.664, "NODE": 0.554, "CfC": 0.582, "MLP": 0.556}


def register(subparsers):
    p = subparsers.add_parser("dynpmnn", help="DynPMNN vs NODE / CfC / MLP on California Housing (Felipe-Sosa et al.)")
    p.add_argument("--seeds", type=int, default=5, help="independent runs per model (default 5)")
    p.add_argument("--quick", action="store_true",
                   help="CI smoke run: 2 epochs, 1 seed, smaller NODE / CfC / MLP (flagged in the table)")
    p.add_argument("--out", default="runs/dynpmnn", help="output folder (default runs/dynpmnn)")
    p.add_argument("--resume", action="store_true", help="skip finished runs, continue interrupted ones")
    p.add_argument("--data", default=None,
                   help="StatLib cal_housing file (.csv/.csv.gz/.data) or its folder (default: $FASTDDS_DATA, "
                        "else scikit-learn's fetch_california_housing)")
    p.add_argument("--models", default=None,
                   help="comma-separated subset of: " + ", ".join(_model_keys()) +
                        "; KEY:N runs N seeds of that model instead of --seeds (e.g. node:2)")
    p.add_argument("--epochs", type=int, default=None, help="override the epoch limit (default 100, quick 2)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def _model_keys():
    return ["dynpmnn", "dynpmnn_stable", "fhnnet", "fhnnet_deep", "fhnnet_published", "cfc", "mlp", "hgb", "node"]


def _specs(quick):
    """name -> (label, builder(seed), fit overrides, note)."""
    from fastdds.nn.cfc import CfC
    from fastdds.nn.dynpmnn import DynPMNN, FHNNet
    from fastdds.nn.node import NODE
    from fastdds.nn.train import MLPRegressor

    small = " (quick: smaller)" if quick else ""
    return {
        "dynpmnn": ("DynPMNN, published (dt 20, 25 steps)", lambda s: DynPMNN(seed=s), {},
                    "published block and settings"),
        "dynpmnn_stable": ("DynPMNN, published block, dt 1 (500 steps)", lambda s: DynPMNN(dt=1.0, steps=500, seed=s),
                           {}, "same block, t_end 500 with a step inside Euler's stability limit"),
        "fhnnet": ("fastdds FHN net (tanh encoder 16, 64 drive neurons, trained a,b,g, dt 0.5 x 10)",
                   lambda s: FHNNet(width=16, hidden=(64,), dt=0.5, steps=10, train=("a", "b", "g"), seed=s),
                   {"lr": 1e-3, "min_delta": 1e-3}, "fastdds network; lr 1e-3, min_delta 1e-3"),
        "fhnnet_deep": ("fastdds FHN net, 2 layers (tanh encoder 16, 32 + 32 drive neurons, trained a,b,g)",
                        lambda s: FHNNet(width=16, hidden=(32, 32), dt=0.5, steps=10, train=("a", "b", "g"), seed=s),
                        {"lr": 1e-3, "min_delta": 1e-3}, "fastdds network; lr 1e-3, min_delta 1e-3"),
        "fhnnet_published": ("fastdds FHN net, published protocol",
                             lambda s: FHNNet(width=16, hidden=(64,), dt=0.5, steps=10, train=("a", "b", "g"), seed=s),
                             {}, "same network; lr 5e-4, min_delta 0.05 as published"),
        "node": ("NODE" + small, lambda s: NODE(hidden=32 if quick else 128, steps=1 if quick else 4, seed=s), {},
                 ("hidden 32, 1 RK4 step" if quick else "hidden 128, RK4 with 4 steps (published: dopri5)")),
        "cfc": ("CfC" + small, lambda s: CfC(units=16 if quick else 64, backbone=32 if quick else 128, seed=s), {},
                "16 units, backbone 32" if quick else "64 units, backbone 128, ts 1"),
        "mlp": ("MLP" + small, lambda s: MLPRegressor([8, 64, 32, 16, 1] if quick else [8, 512, 256, 128, 1], seed=s),
                {}, "64-32-16" if quick else "512-256-128 ReLU, PyTorch default init"),
    }


def _run_hgb(data, seed):
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingRegressor

    Xtr, ytr = data["train"]
    Xte, yte = data["test"]
    t0 = time.perf_counter()
    reg = HistGradientBoostingRegressor(random_state=seed).fit(Xtr, ytr.ravel())
    dt = time.perf_counter() - t0
    err = reg.predict(Xte) - yte.ravel()
    mse = float(np.mean(err ** 2))
    return {"rmse": float(np.sqrt(mse)), "r2": float(1 - mse / np.var(yte)), "train_time": dt, "epochs": reg.n_iter_,
            "time_per_epoch": dt / max(reg.n_iter_, 1), "stopped": "sklearn default", "params": None}


def _stability(model, data):
    """The Euler stability message of the model's (first) FHN layer on 2,048 training inputs."""
    if not hasattr(model, "fhn"):
        return ""
    return model.fhn.stability(model.encoder.forward(data["train"][0][:2048])[0], warn=False).message


def _run_net(key, spec, data, seed, args, out):
    import numpy as np

    from fastdds import io
    from fastdds.nn.blocks import n_params
    from fastdds.nn.train import fit, metrics

    label, build, overrides, _ = spec
    model = build(seed)
    kw = {"lr": 5e-4, "batch": 32, "epochs": args.epochs or (2 if args.quick else 100), "weight_decay": 5e-3,
          "patience": 10, "min_delta": 0.05}
    kw.update(overrides)
    ckpt = out / "checkpoints" / f"{key}_seed{seed}.npz"
    before = "initial: " + _stability(model, data) if hasattr(model, "fhn") else ""
    hist = fit(model, data["train"], data["val"], seed=seed, checkpoint=ckpt, resume=args.resume and ckpt.is_file(),
               progress=not args.no_progress, desc=f"{key} seed {seed}", **kw)
    res = metrics(model, *data["test"])
    res.update({"params": n_params(model), "train_time": float(np.sum(hist.epoch_time)),
                "epochs": len(hist.val_mse), "time_per_epoch": float(np.median(hist.epoch_time)),
                "best_epoch": hist.best_epoch, "stopped": hist.stopped, "val_mse": hist.val_mse,
                "settings": {k: v for k, v in kw.items()}})
    after = _stability(model, data) if all(np.isfinite(p).all() for p in model.params) else ""
    res["stability"] = "; ".join(x for x in (before, "trained: " + after if after else "") if x)
    io.write_json(out / "runs" / f"{key}_seed{seed}.json", res, backup=False)
    return res


def _summary(key, label, note, runs):
    import numpy as np

    rmse = np.array([r["rmse"] for r in runs], dtype=float)
    finite = np.isfinite(rmse)
    row = {"key": key, "model": label, "params": runs[0]["params"], "seeds": len(runs),
           "diverged": int((~finite).sum()),
           "rmse_mean": float(rmse[finite].mean()) if finite.any() else float("nan"),
           "rmse_std": float(rmse[finite].std(ddof=1)) if finite.sum() > 1 else 0.0,
           "r2_mean": float(np.mean([r["r2"] for r in runs if np.isfinite(r["r2"])])) if finite.any() else float("nan"),
           "train_time": float(np.mean([r["train_time"] for r in runs])),
           "time_per_epoch": float(np.mean([r["time_per_epoch"] for r in runs])),
           "epochs": float(np.mean([r["epochs"] for r in runs])), "note": note,
           "published_rmse": PUBLISHED.get(label.split(",")[0].split(" (")[0])}
    if runs[0].get("stability"):
        row["stability"] = runs[0]["stability"]
    return row


def _markdown(rows, quick):
    head = ("| model | params | test RMSE (mean +- std) | test R2 | diverged | train time [s] | s/epoch (median) | "
            "epochs | "
            "published RMSE | note |\n|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in rows:
        rm = "diverged (NaN)" if r["rmse_mean"] != r["rmse_mean"] else f"{r['rmse_mean']:.3f} +- {r['rmse_std']:.3f}"
        r2 = "-" if r["r2_mean"] != r["r2_mean"] else f"{r['r2_mean']:.3f}"
        lines.append(f"| {r['model']} | {r['params'] if r['params'] is not None else '-'} | {rm} | {r2} | "
                     f"{r['diverged']}/{r['seeds']} | {r['train_time']:.1f} | {r['time_per_epoch']:.3f} | "
                     f"{r['epochs']:.1f} | {r['published_rmse'] if r['published_rmse'] else '-'} | {r['note']} |")
    stab = [f"- {r['model']}: {r['stability']}" for r in rows if r.get("stability")]
    text = "# California Housing: DynPMNN and baselines\n\n" + ("**quick run (CI smoke test)**\n\n" if quick else "")
    text += head + "\n".join(lines) + "\n"
    if stab:
        text += ("\nEuler stability (first FHN layer on 2,048 training inputs, initial and trained weights):\n\n"
                 + "\n".join(stab) + "\n")
    return text


def run(args):
    import json
    from pathlib import Path

    from fastdds import io
    from fastdds.datasets import california_housing, split_published

    out = Path(args.out)
    data = split_published(*california_housing(args.data))
    specs = _specs(args.quick)
    seeds = 1 if args.quick else args.seeds
    plan = [(k.split(":")[0], int(k.split(":")[1]) if ":" in k else seeds)
            for k in (args.models.split(",") if args.models else _model_keys())]
    unknown = [k for k, _ in plan if k not in _model_keys()]
    if unknown:
        raise ValueError(f"unknown models {unknown}; choose from {_model_keys()}")
    rows = []
    for key, n_seeds in plan:
        if key == "hgb":
            try:
                import sklearn  # noqa: F401
            except ImportError:
                print("scikit-learn is not installed: skipping the HistGradientBoosting reference")
                continue
            runs = [_run_hgb(data, s) for s in range(n_seeds)]
            rows.append(_summary(key, "HistGradientBoostingRegressor (sklearn defaults)", "reference, not a network",
                                 runs))
            continue
        label, _, _, note = specs[key]
        runs = []
        for s in range(n_seeds):
            done = out / "runs" / f"{key}_seed{s}.json"
            if args.resume and done.is_file():
                runs.append(json.loads(done.read_text()))
                continue
            runs.append(_run_net(key, specs[key], data, s, args, out))
        rows.append(_summary(key, label, note, runs))
    text = _markdown(rows, args.quick)
    io.write_json(out / "results.json", {"quick": args.quick, "seeds": seeds, "rows": rows})
    io.write_text(out / "results.md", text)
    print(text)
    print(f"written {out / 'results.json'} and {out / 'results.md'}")
