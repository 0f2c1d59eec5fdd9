"""The CUDA-simulator rerun of the GPU-twin tests, started in the background (see tests/conftest.py).

tests/test_gpu_twins.py and tests/test_array_module.py rerun in a subprocess under Numba's CUDA
simulator (``NUMBA_ENABLE_CUDASIM=1``), which records every kernel launch. The twins run there as
Python, and so do the CPU kernels they are compared with (``NUMBA_DISABLE_JIT=1``): compiling
those references for the simulator's small cases took 191 of its 229 s on a cold cache, and the
compiled CPU kernels are tested by the rest of the suite. The session that
starts it (a plain pytest run, or the xdist controller) names its folder in
$FASTDDS_GPU_SIMULATOR_RUN, so that an xdist worker that runs the twin tests waits for that run
instead of starting its own. Run as a script (``python tests/gpu_simulator.py FOLDER``) it is
that background run: it writes stdout, stderr and the launch record into FOLDER, then the
return code (last, atomically, so its presence means the run has ended).
"""

import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ENV = "FASTDDS_GPU_SIMULATOR_RUN"


class SimulatorRun:
    """One background run, in `folder`; `start` launches it, `result` waits for its end."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self._proc = None

    @classmethod
    def start(cls):
        """Launch the run in a new temporary folder and return at once."""
        run = cls(tempfile.mkdtemp(prefix="fastdds-gpu-twins-"))
        run._proc = subprocess.Popen([sys.executable, __file__, str(run.folder)], cwd=TESTS.parent,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        return run

    def result(self, timeout=900):
        """(returncode, stdout, stderr, launches) once the run has ended."""
        done = self.folder / "returncode"
        end = time.monotonic() + timeout
        while not done.exists():
            if time.monotonic() > end:
                raise TimeoutError(f"the simulator run in {self.folder} did not end within {timeout} s")
            time.sleep(0.2)
        out, err = ((self.folder / name).read_text() for name in ("stdout", "stderr"))
        record = self.folder / "launches.pkl"
        launches = pickle.loads(record.read_bytes()) if record.exists() else []
        return int(done.read_text()), out, err, launches

    def close(self):
        """Stop the run if it is still going; remove its files (only the starter does)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:  # the script and its pytest: one process group
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        for path in self.folder.iterdir():
            path.unlink()
        self.folder.rmdir()


_RUN = {}


def start():
    """Start this session's run (once) and name its folder for xdist workers started later."""
    if "run" not in _RUN:
        _RUN["run"] = SimulatorRun.start()
        os.environ[ENV] = str(_RUN["run"].folder)
    return _RUN["run"]


def simulator_run():
    """The session's run: the one $FASTDDS_GPU_SIMULATOR_RUN names, else one started now."""
    if "run" not in _RUN and os.environ.get(ENV):
        _RUN["run"] = SimulatorRun(os.environ[ENV])
    return start()


def close():
    """Stop and remove the run this session started, if any."""
    run = _RUN.pop("run", None)
    if run is not None:
        run.close()


def _main(folder):
    """The background run itself: the twin tests under the simulator, output into `folder`."""
    folder = Path(folder)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", NUMBA_DISABLE_JIT="1",
               FASTDDS_GPU_LAUNCH_RECORD=str(folder / "launches.pkl"))
    env.pop(ENV, None)
    with open(folder / "stdout", "w") as out, open(folder / "stderr", "w") as err:
        returncode = subprocess.call(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
             str(TESTS / "test_gpu_twins.py"), str(TESTS / "test_array_module.py")],
            env=env, cwd=TESTS.parent, stdout=out, stderr=err)
    (folder / "returncode.tmp").write_text(str(returncode))
    os.replace(folder / "returncode.tmp", folder / "returncode")


if __name__ == "__main__":
    _main(sys.argv[1])
