"""A dependency-free progress line on stderr (rate, ETA, latest metrics).

Written here rather than taken from tqdm to keep the runtime dependencies to numpy, scipy
and numba; it prints at most a few times a second, and a plain line per update when stderr
is not a terminal (CI logs), throttled to every `every` seconds.
"""

import sys
import time


class Progress:
    """Report progress of `total` steps.

    Parameters
    ----------
    total : int or None
        None when the count is not known in advance (e.g. sweeps until convergence): the line then
        shows the count and rate, no ETA.
    desc : str
    every : float
        Seconds between lines when stderr is not a terminal.
    enabled : bool
    """

    def __init__(self, total, desc="", every=10.0, enabled=True, start=0):
        self.total, self.desc, self.enabled = None if total is None else int(total), desc, enabled
        self.tty = sys.stderr.isatty()
        self.every = 0.2 if self.tty else every
        self.t0 = self.last = time.perf_counter()
        self.start = self.n = int(start)

    def update(self, n, **metrics):
        """Set the step count to n and show `metrics` (name=value) if it is time to."""
        self.n = n
        now = time.perf_counter()
        if self.enabled and (now - self.last >= self.every or (self.total is not None and n >= self.total)):
            self.last = now
            self._show(now, metrics)

    def _show(self, now, metrics):
        done = self.n - self.start
        rate = done / max(now - self.t0, 1e-9)
        extra = " ".join(f"{k}={v:.3e}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())
        if self.total is None:
            line = f"{self.desc} {self.n} [{rate:.1f} it/s] {extra}"
        else:
            eta = (self.total - self.n) / rate if rate > 0 else float("inf")
            line = f"{self.desc} {self.n}/{self.total} [{rate:.1f} it/s, eta {eta:.0f}s] {extra}"
        sys.stderr.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        sys.stderr.flush()

    def close(self):
        if self.enabled and self.tty:
            sys.stderr.write("\n")
