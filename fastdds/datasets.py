"""Data sets: California Housing (StatLib file, scikit-learn's features) and the published split.

`california_housing` looks for the data in this order:

1. the `path` argument: the StatLib file itself (``cal_housing.csv``, ``cal_housing.csv.gz`` or
   ``cal_housing.data``; comma separated, with or without a header line) or a folder holding one;
2. ``$FASTDDS_DATA``: the same, a file or a folder holding one of those names;
3. scikit-learn's ``fetch_california_housing`` (its cache or a download), when scikit-learn is
   installed;

otherwise it raises FileNotFoundError saying how to provide the file.
"""

import gzip
import os
from pathlib import Path

import numpy as np

FEATURES = ("MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude")
STATLIB_COLUMNS = ("longitude", "latitude", "housing_median_age", "total_rooms", "total_bedrooms",
                   "population", "households", "median_income", "median_house_value")
FILE_NAMES = ("cal_housing.csv.gz", "cal_housing.csv", "cal_housing.data")
N_ROWS = 20640

_HOW = ("download https://www.dcc.fc.up.pt/~ltorgo/Regression/cal_housing.tgz and pass its "
        "cal_housing.data (or a cal_housing.csv.gz with the StatLib columns " + ", ".join(STATLIB_COLUMNS) +
        ") with --data PATH / california_housing(path=...), or set FASTDDS_DATA to that file or to the "
        "folder holding it, or pip install scikit-learn to fetch it")


def _resolve(path, origin):
    path = Path(path)
    if path.is_dir():
        for name in FILE_NAMES:
            if (path / name).is_file():
                return path / name
        raise FileNotFoundError(f"{origin} {path} is a folder without any of {FILE_NAMES}; {_HOW}")
    if not path.is_file():
        raise FileNotFoundError(f"{origin} {path} does not exist; {_HOW}")
    return path


def read_statlib(path):
    """Read the StatLib California Housing file.

    Parameters
    ----------
    path : str or Path
        Plain or gzip-compressed (detected from the content), comma separated, nine columns in
        StatLib order (`STATLIB_COLUMNS`), with or without a header line.

    Returns
    -------
    ndarray, shape (rows, 9), float64, in StatLib column order.

    Raises
    ------
    ValueError
        A truncated or damaged file, a line without nine columns, a header naming other columns,
        or an entry that is not a finite number (the message names the line and column).
    """
    path = Path(path)
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open(path, "rt") if gz else open(path)) as f:
            lines = [(k, ln.strip()) for k, ln in enumerate(f, 1) if ln.strip()]
    except (EOFError, OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} cannot be read to its end ({exc}): the file is truncated or damaged; "
                         f"fetch it again. {_HOW}") from None
    if not lines:
        raise ValueError(f"{path} is empty; {_HOW}")
    first = [c.strip().strip('"').lower() for c in lines[0][1].split(",")]
    try:
        float(first[0])
        has_header = False
    except ValueError:
        has_header = True
    if has_header:
        if tuple(first) != STATLIB_COLUMNS:
            raise ValueError(f"{path} has columns {first}; expected the StatLib columns {list(STATLIB_COLUMNS)}")
        lines = lines[1:]
    data = np.empty((len(lines), len(STATLIB_COLUMNS)))
    for r, (lineno, ln) in enumerate(lines):
        cells = ln.split(",")
        if len(cells) != len(STATLIB_COLUMNS):
            raise ValueError(f"{path} line {lineno} has {len(cells)} columns; expected 9 ({', '.join(STATLIB_COLUMNS)})")
        for c, cell in enumerate(cells):
            try:
                data[r, c] = float(cell)
            except ValueError:
                data[r, c] = np.nan
            if not np.isfinite(data[r, c]):
                raise ValueError(f"{path} line {lineno}, column {c + 1} ({STATLIB_COLUMNS[c]}) holds {cell.strip()!r}, "
                                 f"not a finite number; expected nine numeric StatLib columns")
    return data


def features_from_statlib(raw):
    """scikit-learn's eight features and target from StatLib columns.

    Parameters
    ----------
    raw : ndarray, shape (rows, 9), StatLib column order

    Returns
    -------
    X : ndarray, shape (rows, 8), float64, columns `FEATURES`
        AveRooms, AveBedrms and AveOccup are per household.
    y : ndarray, shape (rows,), float64, median house value in units of $100,000
    """
    lon, lat, age, rooms, beds, pop, hh, inc, value = raw.T
    X = np.column_stack([inc, age, rooms / hh, beds / hh, pop, pop / hh, lat, lon])
    return X, value / 1e5


def california_housing(path=None):
    """California Housing with scikit-learn's features and target convention.

    Parameters
    ----------
    path : str or Path, optional
        The StatLib file or a folder holding it (see the module docstring for the search order).

    Returns
    -------
    X : ndarray, shape (20640, 8), float64, columns `FEATURES` (rows in scikit-learn's order)
    y : ndarray, shape (20640,), float64, median house value / 1e5

    Raises
    ------
    FileNotFoundError
        No file found and scikit-learn not installed; the message says how to provide the data.
    ValueError
        The file has the wrong columns.
    """
    if path is None and os.environ.get("FASTDDS_DATA"):
        path, origin = os.environ["FASTDDS_DATA"], "$FASTDDS_DATA ="
    else:
        origin = "the data path"
    if path is not None:
        return features_from_statlib(read_statlib(_resolve(path, origin)))
    try:
        from sklearn.datasets import fetch_california_housing
    except ImportError:
        raise FileNotFoundError(f"no California Housing file given and scikit-learn is not installed; {_HOW}") \
            from None
    bunch = fetch_california_housing()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.float64)


def split_published(X, y, seed=42, batch=64, dtype=np.float64, rows=N_ROWS):
    """The published split of Felipe-Sosa et al.: 70 / 20 / 10 %, standardised, cut to whole batches.

    r = RandomState(seed).rand(rows); train r <= 0.7, validation 0.7 < r <= 0.9, test r > 0.9;
    features standardised with the train mean and unbiased (ddof=1) std; each split cut to a
    multiple of `batch` rows (its first rows kept). Targets are not scaled.

    Parameters
    ----------
    X : ndarray, shape (rows, features)
    y : ndarray, shape (rows,)
    seed : int
    batch : int
    dtype : float64 or float32
    rows : int or None
        Rows the published split is defined on (20,640); another count raises ValueError, since
        the same seed then selects other rows. None splits data of any size the same way.

    Returns
    -------
    dict with "train", "val", "test": (X, y), X shape (n, features), y shape (n, 1), C-contiguous,
    and "mean", "std": shape (features,). For California Housing: 14,464 / 4,096 / 2,048 rows.
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.size:
        raise ValueError(f"X has shape {X.shape} and y {y.shape}; expected (rows, features) and (rows,)")
    if rows is not None and X.shape[0] != rows:
        raise ValueError(f"the data has {X.shape[0]} rows but the published split is defined on {rows} "
                         f"({rows - X.shape[0]:+d}): it would not be the published split; use the complete "
                         f"California Housing file, or pass rows=None to split these rows anyway")
    r = np.random.RandomState(seed).rand(X.shape[0])
    masks = {"train": r <= 0.7, "val": (r > 0.7) & (r <= 0.9), "test": r > 0.9}
    mean = X[masks["train"]].mean(axis=0)
    std = X[masks["train"]].std(axis=0, ddof=1)
    out = {"mean": mean, "std": std}
    for name, m in masks.items():
        n = (int(m.sum()) // batch) * batch
        Xs = ((X[m] - mean) / std)[:n]
        out[name] = (np.ascontiguousarray(Xs, dtype=dtype), np.ascontiguousarray(y[m][:n, None], dtype=dtype))
    return out


def check_published(path=None):
    """Check, before any run, that California Housing is found and gives the published split.

    Parameters
    ----------
    path : str or Path, optional
        As for `california_housing` (a file, a folder holding one, else $FASTDDS_DATA or scikit-learn).

    Returns
    -------
    str : where the data came from and its row count, for a log line.

    Raises
    ------
    FileNotFoundError
        No data found (the message says how to provide it).
    ValueError
        A damaged file, a bad cell (naming line and column), or another row count than the
        published 20,640 (naming the file and both counts).
    """
    if path is None and os.environ.get("FASTDDS_DATA"):
        path = os.environ["FASTDDS_DATA"]
    source = str(_resolve(path, "the data path")) if path is not None else "scikit-learn's fetch_california_housing"
    X, _ = california_housing(path)
    if X.shape[0] != N_ROWS:
        raise ValueError(f"{source} has {X.shape[0]:,} rows but the published split is defined on {N_ROWS:,} "
                         f"({X.shape[0] - N_ROWS:+,d}): it would not be the published split; use the complete "
                         f"California Housing file")
    return f"{source}: {X.shape[0]:,} rows, the published split"
