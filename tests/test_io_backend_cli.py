"""Atomic files and checkpoints, backend selection, the `fastdds info` command."""

import argparse
import json

import numpy as np
import pytest

from fastdds import backend, cli
from fastdds.commands import reproduce_all
from fastdds.io import atomic_write, load_checkpoint, save_checkpoint, write_json


def test_atomic_write_keeps_backup_and_survives_failure(tmp_path):
    path = tmp_path / "out.json"
    write_json(path, {"a": np.arange(3)})
    write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert json.loads((tmp_path / "out.json.bak").read_text()) == {"a": [0, 1, 2]}

    def broken(f):
        f.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, broken)
    assert json.loads(path.read_text()) == {"a": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "out.json.bak"]


def test_checkpoint_roundtrip(tmp_path):
    arrays = {"W0": np.arange(6.0).reshape(2, 3), "step": np.array(7)}
    save_checkpoint(tmp_path / "ck.npz", arrays, {"history": [1.0, 0.5], "seed": 3})
    got, meta = load_checkpoint(tmp_path / "ck.npz")
    np.testing.assert_array_equal(got["W0"], arrays["W0"])
    assert meta == {"history": [1.0, 0.5], "seed": 3}
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.npz")


def test_backend_selection(monkeypatch):
    with pytest.raises(ValueError, match="unknown backend"):
        backend.set_backend("tpu")
    ok, why = backend.gpu_available()
    if not ok:
        with pytest.raises(RuntimeError, match="gpu backend is not usable"):
            backend.set_backend("gpu")
        assert why
    monkeypatch.setitem(backend._state, "name", None)
    monkeypatch.setenv("FASTDDS_BACKEND", "cpu")
    assert backend.get_backend() == "cpu" and backend.xp() is np
    assert backend.kernels("banded").__name__ == "fastdds.kernels.cpu.banded"


def test_info_command(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    for field in ("fastdds", "backend", "numba threads", "BLAS", "GPU usable"):
        assert field in out


def test_reproduce_all_runs_every_setup_and_stops_at_a_failure(monkeypatch):
    from fastdds import datasets

    monkeypatch.setattr(datasets, "check_published", lambda path: f"{path}: checked")
    calls = []
    real_main = cli.main

    def fake_main(argv=None):
        if argv and argv[0] == "reproduce" and argv[1] != "all":
            calls.append(argv)
            return 3 if argv[1] == "eikonal" else 0
        return real_main(argv)

    monkeypatch.setattr(cli, "main", fake_main)
    assert cli.main(["reproduce", "all", "--quick", "--out", "o", "--data", "d.csv"]) == 3
    assert [c[1] for c in calls] == ["burgers-viscous", "burgers-inviscid", "eikonal"]
    assert calls[0] == ["reproduce", "burgers-viscous", "--out", "o/burgers-viscous", "--runs", "1", "--quick"]
    calls.clear()
    monkeypatch.setattr(cli, "main", lambda argv=None: calls.append(argv) or 0)
    reproduce_all.run(argparse.Namespace(quick=False, runs=None, out="r", data=None, resume=True, no_progress=False))
    assert [c[1] for c in calls] == ["burgers-viscous", "burgers-inviscid", "eikonal", "raissi-burgers", "dynpmnn",
                                     "learned-stencil", "cost"]
    assert calls[4] == ["reproduce", "dynpmnn", "--out", "r/dynpmnn", "--resume"]
    assert calls[0] == ["reproduce", "burgers-viscous", "--out", "r/burgers-viscous", "--resume"]
    assert calls[-1] == ["reproduce", "cost", "--out", "r/cost", "--resume"]


def test_info_compile_warms_the_named_groups(capsys):
    assert cli.main(["info", "--compile", "banded"]) == 0
    out = capsys.readouterr().out
    assert "compiled banded (float64)" in out and "compiled banded (float32)" in out
    assert "compiled 1 kernel group(s)" in out
    assert cli.main(["info", "--compile", "nope"]) != 0
    assert "unknown kernel group(s) ['nope']" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["solve", "burgers", "--cfl", "0"], "--cfl: 0 is not positive"),
    (["solve", "burgers", "--cfl", "-1"], "--cfl: -1 is not positive"),
    (["solve", "burgers", "--cfl", "nan"], "--cfl: nan is not a finite number"),
    (["solve", "burgers", "--t", "inf"], "--t-end/--t: inf is not a finite number"),
    (["solve", "burgers", "--nx", "2.5"], "--nx: '2.5' is not an integer"),
    (["solve", "burgers", "--nu", "-0.1"], "--nu: -0.1 is not non-negative"),
    (["solve", "eikonal", "--max-output", "0"], "--max-output: 0 is not a positive count"),
    (["reproduce", "dynpmnn", "--epochs", "0"], "--epochs: 0 is not a positive count"),
    (["reproduce", "dynpmnn", "--epochs", "-1"], "--epochs: -1 is not a positive count"),
    (["reproduce", "eikonal", "--runs", "0"], "--runs/--seeds: 0 is not a positive count"),
    (["reproduce", "dynpmnn", "--seeds", "0"], "--runs/--seeds: 0 is not a positive count"),
])
def test_bad_numbers_are_refused_before_any_work(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_unwritable_outputs_are_refused_before_any_work(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    cases = [(["solve", "burgers", "--json", str(tmp_path)], "is a folder; give a file name inside it"),
             (["solve", "eikonal", "--json", str(afile / "out.json")], "is a file, not a folder"),
             (["reproduce", "eikonal", "--out", str(afile)], "is a file; give a folder"),
             (["reproduce", "eikonal", "--out", str(afile / "sub")], "is a file"),
             (["compare", "w.npz", "--markdown", str(tmp_path)], "is a folder")]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
    assert afile.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_progress_line_without_a_known_total(monkeypatch, capsys):
    from fastdds import progress

    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: False, raising=False)
    bar = progress.Progress(None, desc="sweeps", every=0.0)
    bar.update(3)
    bar.close()
    line = capsys.readouterr().err
    assert line.startswith("sweeps 3 [") and "it/s]" in line and "eta" not in line and "/" not in line.split("[")[0]


def test_solve_eikonal_counts_its_sweeps_on_the_progress_line(monkeypatch, capsys):
    from fastdds import progress

    seen = []
    monkeypatch.setattr(progress.Progress, "update", lambda self, n, **m: seen.append((self.desc, n)))
    assert cli.main(["solve", "eikonal", "--nx", "41"]) == 0
    sweeps = int(capsys.readouterr().out.split(" sweeps")[0].rsplit(" ", 1)[1])
    assert seen and seen[-1] == ("eikonal point sweeps", sweeps) and sweeps >= 2
