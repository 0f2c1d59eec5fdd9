"""Bad inputs to the CLI and its loaders: each answered with one clear message (naming the file, the shapes,
the domain or the memory), no traceback, before any work."""

import json
import warnings

import numpy as np
import pytest

from fastdds import cli, io, models, validation

EIKONAL_NET = [2, 20, 20, 1]


def weight_file(path, sizes=EIKONAL_NET, dtypes=None, seed=0):
    """A PINN weight file (W_l stored (fan_in, fan_out), b_l), arrays of `dtypes` (default all float64)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for l, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        arrays[f"W{l}"] = rng.normal(0, 1 / np.sqrt(a), (a, b))
        arrays[f"b{l}"] = np.zeros(b)
    for name, dt in (dtypes or {}).items():
        arrays[name] = arrays[name].astype(dt)
    np.savez(path, **arrays)
    return path


def damaged_files(tmp_path):
    good = weight_file(tmp_path / "good.npz")
    raw = good.read_bytes()
    files = {"empty": b"", "truncated": raw[: len(raw) // 2], "cut short": raw[:-12],
             "garbage": b"these are not the weights you are looking for\n" * 20}
    out = {}
    for name, content in files.items():
        out[name] = tmp_path / f"{name.replace(' ', '_')}.npz"
        out[name].write_bytes(content)
    out["lone .npy"] = tmp_path / "lone.npz"
    with open(out["lone .npy"], "wb") as f:
        np.save(f, np.ones(3))
    out["object array"] = tmp_path / "objects.npz"
    np.savez(out["object array"], W0=np.array([{"a": 1}], dtype=object))
    return out


EXPECTED = {"empty": "is empty (0 bytes)", "truncated": "is truncated or damaged",
            "cut short": "is truncated or damaged",
            "garbage": "is not an .npz archive", "lone .npy": "is a single .npy array",
            "object array": "holds an array of Python objects"}


def _fails(argv, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "allow_pickle" not in err
    return err


def test_damaged_weight_files_and_checkpoints_name_the_file(tmp_path, capsys):
    for kind, path in damaged_files(tmp_path).items():
        for load in (models.load_model, io.load_checkpoint, io.read_npz):
            with pytest.raises(ValueError) as exc:
                load(path)
            assert str(path) in str(exc.value) and EXPECTED[kind] in str(exc.value), (kind, load)
            assert "allow_pickle" not in str(exc.value)
        for argv in (["evaluate", str(path), "--problem", "eikonal"], ["compare", str(path), "--no-baseline"],
                     ["solve", "burgers", "--nx", "11", "--checkpoint", str(path), "--resume"]):
            err = _fails(argv, capsys)
            assert str(path) in err and EXPECTED[kind] in err, (kind, argv, err)


def test_an_npz_that_is_not_a_checkpoint_is_named(tmp_path):
    path = weight_file(tmp_path / "w.npz")
    with pytest.raises(ValueError, match="without the '__meta__' record of a fastdds checkpoint"):
        io.load_checkpoint(path)


def test_mixed_dtype_weights_warn_naming_file_and_arrays(tmp_path):
    path = weight_file(tmp_path / "mixed.npz", dtypes={"W0": np.float32, "b0": np.float32})
    with pytest.warns(UserWarning) as record:
        net = models.load_model(path, "leaky_relu")
    text = str(record[0].message)
    assert str(path) in text and "float32: W0, b0" in text and "float64: W1, W2, b1, b2" in text
    assert "converted to float32" in text and net.dtype == np.float32
    same = weight_file(tmp_path / "same.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert models.load_model(same, "leaky_relu").dtype == np.float64


def test_evaluate_refuses_weights_of_another_network_naming_both_shapes(tmp_path, capsys):
    path = weight_file(tmp_path / "eikonal_run1.npz")
    err = _fails(["evaluate", str(path), "--problem", "burgers-viscous"], capsys)
    assert "holds a 2-20-20-1 network but --problem burgers-viscous uses a 2-100-100-100-100-100-100-100-100-1" in err
    assert "these weights fit --problem eikonal" in err
    assert cli.main(["evaluate", str(path), "--problem", "eikonal", "--json", str(tmp_path / "m.json")]) == 0
    captured = capsys.readouterr()
    assert f"evaluating {path} (2-20-20-1) on eikonal" in captured.err
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["layers"] == EIKONAL_NET and metrics["L2"] > 0


@pytest.mark.parametrize("x0", ["0", "1", "-0.5", "1.5"])
def test_riemann_jump_outside_the_domain_is_refused(x0, capsys):
    err = _fails(["solve", "burgers", "--ic", "riemann", "--nu", "0", "--nx", "11", "--x0", x0], capsys)
    assert f"--x0 {float(x0)} is outside the domain (0, 1) of --ic riemann" in err


def test_runs_that_cannot_fit_in_memory_are_refused_with_both_numbers(monkeypatch, capsys):
    monkeypatch.setattr(validation, "available_memory", lambda: 2 ** 30)
    err = _fails(["solve", "burgers", "--nx", "200000000"], capsys)
    assert "solve burgers --nx 200000000 (float64) needs about 14.9 GiB of memory but 1.0 GiB is available" in err
    err = _fails(["solve", "eikonal", "--nx", "20001"], capsys)
    assert "(400,040,001 cells, float64) needs about 30.6 GiB of memory but 1.0 GiB is available; lower --nx" in err
    err = _fails(["solve", "eikonal", "--n", "20001", "--dtype", "float32"], capsys)  # the deprecated alias
    assert "float32) needs about 23.1 GiB" in err
    err = _fails(["compare", "no-model-read-first.npz", "--nx", "5000"], capsys)
    assert "compare --nx 5000 needs about 2.3 GiB of memory but 1.0 GiB is available; lower --nx" in err


def test_runs_print_their_size_before_they_start(capsys):
    assert cli.main(["solve", "burgers", "--ic", "riemann", "--nu", "0", "--scheme", "lf", "--nx", "101",
                     "--t-end", "0.5", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert ("burgers riemann lf: 101 nodes x 56 steps = 5.66e+03 node-steps (about 5.7e-05 s at 1e8 a second); "
            "memory about 7.9 KiB of" in captured.err)
    assert "compiled in" in captured.err and "steps=56 " in captured.out  # the steps announced are the steps run
    assert cli.main(["solve", "eikonal", "--nx", "41"]) == 0
    captured = capsys.readouterr()
    assert "eikonal point 2-D: 1,681 cells; memory about 134.6 KiB" in captured.err
    assert "cell-sweeps/s" in captured.out


def test_reproduce_all_checks_the_data_before_the_first_run(tmp_path, monkeypatch, capsys):
    row = "-122.23,37.88,41.0,880.0,129.0,322.0,126.0,8.3252,452600.0"
    short = tmp_path / "cal_housing.csv"
    short.write_text("\n".join([row] * 3) + "\n")
    runs = []
    real = cli.main
    monkeypatch.setattr(cli, "main", lambda argv=None: runs.append(argv) if argv[1] != "all" else real(argv))
    out = tmp_path / "out"
    assert cli.main(["reproduce", "all", "--quick", "--out", str(out), "--data", str(short)]) == 2
    err = capsys.readouterr().err
    assert f"{short} has 3 rows but the published split is defined on 20,640 (-20,637)" in err
    nan = tmp_path / "nan.csv"
    nan.write_text(row + "\n" + row.replace("41.0", "nan") + "\n")
    assert cli.main(["reproduce", "all", "--quick", "--out", str(out), "--data", str(nan)]) == 2
    assert f"{nan} line 2, column 3 (housing_median_age) holds 'nan'" in capsys.readouterr().err
    assert cli.main(["reproduce", "all", "--quick", "--out", str(out), "--data", str(tmp_path / "nope.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert runs == [] and not out.exists()
    assert real(["reproduce", "dynpmnn", "--quick", "--out", str(out), "--data", str(short)]) == 2
    assert f"{short} has 3 rows but the published split" in capsys.readouterr().err and not out.exists()


def test_resume_from_another_working_directory_finds_the_finished_runs(tmp_path, monkeypatch, capsys):
    """A run folder written with a relative --out is resumed from elsewhere with the folder's path."""
    from fastdds.pinn import reproduce as R

    work, other = tmp_path / "work", tmp_path / "other"
    other.mkdir()
    folder = work / "runs" / "eikonal"
    folder.mkdir(parents=True)
    weight_file(folder / "eikonal_run1.npz")
    record = {"seed": 1, "L1": 1e-3, "L2": 2e-3, "Linf": 3e-3, "rel_L2": 4e-3, "wall_time": 1.0, "params": 501,
              "adam_steps": 10, "lbfgs_iters": 0, "lbfgs_message": "", "loss": {"final": 1e-4},
              "weights": "runs/eikonal/eikonal_run1.npz", "checkpoint": "runs/eikonal/eikonal_run1.ckpt.npz"}
    (folder / "eikonal.json").write_text(json.dumps({"target": "eikonal", "runs": [record]}))
    monkeypatch.chdir(other)
    trained = []
    monkeypatch.setattr(R, "run_one", lambda target, seed, *a, **k: trained.append(seed) or dict(record, seed=seed))
    assert cli.main(["reproduce", "eikonal", "--runs", "1", "--out", str(folder), "--resume", "--no-progress"]) == 0
    assert trained == []  # run 1 was found finished, not trained again


def test_reproduce_commands_print_their_plan_first(monkeypatch, capsys):
    from fastdds.nn import reproduce as N
    from fastdds.pinn import reproduce as P

    from fastdds import datasets

    monkeypatch.setattr(P, "reproduce", lambda *a, **k: None)
    monkeypatch.setattr(N, "reproduce", lambda *a, **k: None)
    monkeypatch.setattr(datasets, "check_published", lambda path: "cal_housing.csv: 20,640 rows, the published split")
    assert cli.main(["reproduce", "eikonal", "--runs", "3", "--first-seed", "2"]) == 0
    assert ("reproduce eikonal: 3 run(s), seeds 2..4; 2-20-20-1 leaky_relu (501 parameters, float64); Adam 10,000 "
            "steps + L-BFGS up to 0 iterations a run; points: collocation 10,000, terminal 200, side 200"
            in capsys.readouterr().err)
    assert cli.main(["reproduce", "dynpmnn", "--models", "dynpmnn,node:2", "--seeds", "4"]) == 0
    assert ("reproduce dynpmnn: 6 run(s): dynpmnn x4 (seeds 0..3), node x2 (seeds 0..1); epochs: at most 100 "
            "(early stopping); data: cal_housing.csv: 20,640 rows, the published split" in capsys.readouterr().err)
