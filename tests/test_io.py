"""fastdds.io: permissions, strict JSON, checkpoints that refuse a mismatched model."""

import json
import os

import numpy as np
import pytest

from fastdds import io


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_new_files_honour_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        io.write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask


def test_replaced_file_keeps_its_mode(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("{}")
    path.chmod(0o640)
    io.write_json(path, {"a": 1})
    assert path.stat().st_mode & 0o777 == 0o640
    assert json.loads(path.read_text()) == {"a": 1}


def test_json_is_strict(tmp_path):
    path = tmp_path / "r.json"
    io.write_json(path, {"a": float("nan"), "b": [1.0, float("inf"), -np.inf], "c": np.array([np.nan, 2.0]),
                         "d": np.float32("nan"), "e": 3.5})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [1.0, None, None], "c": [None, 2.0], "d": None, "e": 3.5}


def test_training_state_round_trip_and_mismatch(tmp_path):
    from fastdds.optim import Adam

    params = [np.arange(6.0).reshape(2, 3), np.ones(3)]
    opt = Adam(params, lr=1e-3)
    opt.step([np.ones((2, 3)), np.ones(3)])
    path = tmp_path / "c.npz"
    io.save_training_state(path, params, opt, {"epoch": 3, "best": float("inf")}, {"best.0": params[0] * 2})
    fresh = [np.zeros((2, 3)), np.zeros(3)]
    opt2 = Adam(fresh, lr=1e-3)
    extra, meta = io.load_training_state(path, fresh, opt2)
    np.testing.assert_array_equal(fresh[0], params[0])
    np.testing.assert_array_equal(opt2.m[0], opt.m[0])
    assert opt2.step_count == opt.step_count == 1
    assert meta == {"epoch": 3, "best": float("inf")}
    np.testing.assert_array_equal(extra["best.0"], params[0] * 2)
    with pytest.raises(ValueError, match=r"parameter 0: \(2, 3\) vs \(3, 2\)"):
        io.load_training_state(path, [np.zeros((3, 2)), np.zeros(3)])
    with pytest.raises(ValueError, match="holds 2 parameter arrays but the model has 1"):
        io.load_training_state(path, [np.zeros((2, 3))])
    with pytest.raises(ValueError, match="holds float64 parameters but the model is float32"):
        io.load_training_state(path, [np.zeros((2, 3), np.float32), np.zeros(3, np.float32)])
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        io.load_training_state(tmp_path / "missing.npz", fresh)


def test_reruns_keep_every_generation(tmp_path):
    path = tmp_path / "out.json"
    for k in range(4):
        io.write_json(path, {"run": k})
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["out.json", "out.json.bak", "out.json.bak.1", "out.json.bak.2"]
    read = lambda name: json.loads((tmp_path / name).read_text())["run"]
    assert [read(n) for n in ("out.json.bak.1", "out.json.bak.2", "out.json.bak", "out.json")] == [0, 1, 2, 3]


def test_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "out.txt"
    io.write_text(path, "old")

    def broken(f):
        f.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        io.atomic_write(path, broken)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
