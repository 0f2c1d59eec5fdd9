"""A running `fastdds solve burgers` stops within a fraction of a second on SIGINT / SIGTERM, saves the
step it reached, and --resume continues it to the uninterrupted run's answer, bit for bit."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from fastdds.io import load_checkpoint

# 1,001 nodes x 400,000 steps: about 2 s of kernel time on a loaded 2-core machine, long enough to interrupt
RUN = ["solve", "burgers", "--ic", "riemann", "--nu", "0", "--scheme", "lf", "--nx", "1001", "--t-end", "180",
       "--no-progress"]


def _start(args):
    return subprocess.Popen([sys.executable, "-m", "fastdds.cli", *RUN, *args], stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def _interrupt(proc, signum):
    """Wait until the solve is running (its run-time estimate is printed), send `signum`; return the seconds
    until the process exited, its status and its stderr."""
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "estimated run time" in line:
            break
    else:
        pytest.fail("the run ended before it printed its estimate: " + "".join(lines))
    sent = time.perf_counter()
    os.kill(proc.pid, signum)
    proc.wait(timeout=10)
    return time.perf_counter() - sent, proc.returncode, "".join(lines) + proc.stderr.read()


def _solution(path):
    return np.array(json.loads(path.read_text())["u"])


def test_sigint_stops_at_once_and_resume_gives_the_uninterrupted_answer(tmp_path):
    ck, out, ref = tmp_path / "ck.npz", tmp_path / "out.json", tmp_path / "ref.json"
    proc = _start(["--checkpoint", str(ck), "--json", str(out)])
    seconds, status, err = _interrupt(proc, signal.SIGINT)
    assert status == 130 and seconds < 2.0, err
    assert "Traceback" not in err and "checkpoint" in err and "--resume" in err
    meta = load_checkpoint(ck)[1]
    assert 0 < meta["step"] < meta["nsteps"] and not out.exists()
    assert f"stopped at step {meta['step']:,} of {meta['nsteps']:,}" in err
    done = subprocess.run([sys.executable, "-m", "fastdds.cli", *RUN, "--checkpoint", str(ck), "--json", str(out),
                           "--resume"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"({meta['step']:,} done)" in done.stderr
    whole = subprocess.run([sys.executable, "-m", "fastdds.cli", *RUN, "--json", str(ref)], capture_output=True,
                           text=True, timeout=120)
    assert whole.returncode == 0, whole.stderr
    assert json.loads(out.read_text())["steps"] == meta["nsteps"]
    assert np.array_equal(_solution(out), _solution(ref))  # bit-identical, not only to round-off


def test_sigterm_without_checkpoint_stops_at_once_and_says_nothing_was_saved(tmp_path):
    seconds, status, err = _interrupt(_start([]), signal.SIGTERM)
    assert status == 130 and seconds < 2.0, err
    assert "nothing saved (give --checkpoint PATH" in err and "Traceback" not in err
