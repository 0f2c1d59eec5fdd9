"""California Housing loader (StatLib file -> scikit-learn features) and the published split."""

import gzip

import numpy as np
import pytest

from fastdds import datasets

ROW = "-122.23,37.88,41.0,880.0,129.0,322.0,126.0,8.3252,452600.0"


def write(path, lines, gz=False):
    text = "\n".join(lines) + "\n"
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("header,gz", [(True, True), (False, False), (True, False)])
def test_features_of_first_row(tmp_path, header, gz):
    lines = ([",".join(datasets.STATLIB_COLUMNS)] if header else []) + [ROW, ROW]
    X, y = datasets.california_housing(write(tmp_path / "f.csv", lines, gz))
    # scikit-learn's documented first row: MedInc 8.3252, HouseAge 41, AveRooms 880/126, ...
    np.testing.assert_allclose(X[0], [8.3252, 41.0, 880 / 126, 129 / 126, 322.0, 322 / 126, 37.88, -122.23])
    np.testing.assert_allclose(y, [4.526, 4.526])


def test_shared_file_and_published_split(shared_data):
    X, y = datasets.california_housing(shared_data / "cal_housing.csv.gz")
    assert X.shape == (20640, 8) and y.shape == (20640,)
    assert 0.14 < y.min() < 0.15 and y.max() == pytest.approx(5.00001)
    d = datasets.split_published(X, y)
    assert [d[k][0].shape[0] for k in ("train", "val", "test")] == [14464, 4096, 2048]
    assert all(d[k][1].shape == (d[k][0].shape[0], 1) for k in ("train", "val", "test"))
    r = np.random.RandomState(42).rand(20640)
    np.testing.assert_allclose(d["std"], X[r <= 0.7].std(0, ddof=1))
    np.testing.assert_allclose(d["test"][0][0], (X[r > 0.9][0] - d["mean"]) / d["std"])
    Xtr = d["train"][0]
    full = (X[r <= 0.7] - d["mean"]) / d["std"]
    np.testing.assert_allclose(Xtr.mean(0), full[:14464].mean(0))
    assert np.abs(full.mean(0)).max() < 1e-12


def test_folder_and_environment(tmp_path, monkeypatch):
    write(tmp_path / "cal_housing.csv", [ROW])
    X, _ = datasets.california_housing(tmp_path)
    assert X.shape == (1, 8)
    monkeypatch.setenv("FASTDDS_DATA", str(tmp_path))
    assert datasets.california_housing()[0].shape == (1, 8)


def test_missing_file_says_how(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="does not exist.*FASTDDS_DATA"):
        datasets.california_housing(tmp_path / "nope.csv.gz")
    with pytest.raises(FileNotFoundError, match="folder without"):
        datasets.california_housing(tmp_path)
    monkeypatch.setenv("FASTDDS_DATA", str(tmp_path / "gone"))
    with pytest.raises(FileNotFoundError, match=r"\$FASTDDS_DATA"):
        datasets.california_housing()


def test_bad_columns(tmp_path):
    with pytest.raises(ValueError, match="line 1 has 8 columns"):
        datasets.california_housing(write(tmp_path / "a.csv", [ROW.rsplit(",", 1)[0]]))
    with pytest.raises(ValueError, match="expected the StatLib columns"):
        datasets.california_housing(write(tmp_path / "b.csv", ["a,b,c,d,e,f,g,h,i", ROW]))
    with pytest.raises(ValueError, match=r"c.csv line 2, column 3 \(housing_median_age\) holds 'x'"):
        datasets.california_housing(write(tmp_path / "c.csv", [ROW, ROW.replace("41.0", "x")]))
    header = ",".join(datasets.STATLIB_COLUMNS)
    with pytest.raises(ValueError, match=r"line 3, column 8 \(median_income\) holds 'nan'"):
        datasets.california_housing(write(tmp_path / "d.csv", [header, ROW, ROW.replace("8.3252", "nan")]))
    with pytest.raises(ValueError, match=r"line 2, column 5 \(total_bedrooms\) holds ''"):
        datasets.california_housing(write(tmp_path / "e.csv", [ROW, ROW.replace("129.0", "")]))


def test_truncated_gzip(tmp_path, shared_data):
    whole = (shared_data / "cal_housing.csv.gz").read_bytes()
    cut = tmp_path / "cal_housing.csv.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match="cal_housing.csv.gz cannot be read to its end.*truncated"):
        datasets.california_housing(cut)


def test_missing_rows_are_not_the_published_split(shared_data):
    X, y = datasets.california_housing(shared_data / "cal_housing.csv.gz")
    with pytest.raises(ValueError, match="has 20630 rows but the published split is defined on 20640"):
        datasets.split_published(X[:-10], y[:-10])
    d = datasets.split_published(X[:1000], y[:1000], rows=None)
    assert sum(d[k][0].shape[0] for k in ("train", "val", "test")) <= 1000


def test_no_file_no_sklearn(monkeypatch):
    monkeypatch.delenv("FASTDDS_DATA", raising=False)
    monkeypatch.setitem(__import__("sys").modules, "sklearn.datasets", None)
    with pytest.raises(FileNotFoundError, match="scikit-learn is not installed.*--data PATH"):
        datasets.california_housing()
