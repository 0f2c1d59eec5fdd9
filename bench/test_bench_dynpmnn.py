"""One training epoch of the published DynPMNN block and of the CfC baseline against PyTorch peers
measured in the same run (ratios in extra_info).

    pytest bench/test_bench_dynpmnn.py                      # timings (full epochs: 14,464 rows)
    pytest bench/test_bench_dynpmnn.py --benchmark-disable  # one quick pass on 1,024 rows
"""


import numpy as np
import pytest

from fastdds.nn.cfc import CfC
from fastdds.nn.dynpmnn import DynPMNN
from fastdds.optim import Adam


def _data(request, seed=0):
    rows = 1024 if request.config.getoption("benchmark_disable") else 14464
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, 8)), rng.standard_normal((rows, 1)), rng.permutation(rows)


def _torch_epoch(torch, model, X, Y, order, batch):
    opt = torch.optim.Adam(model.parameters(), lr=5e-4, betas=(0.9, 0.999), weight_decay=5e-3)
    Xt, Yt, idx = torch.from_numpy(X).float(), torch.from_numpy(Y).float(), torch.from_numpy(order)

    def epoch():
        for i in range(0, idx.numel(), batch):
            b = idx[i:i + batch]
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(Xt[b]), Yt[b])
            loss.backward()
            opt.step()

    return epoch


def test_dynpmnn_epoch_vs_torch(benchmark, request, peer_time):
    torch = pytest.importorskip("torch")
    X, Y, order = _data(request)
    a, b, g, I, dt, K = 0.2, 0.02, 3.0, 0.0, 20.0, 25

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.ln, self.out = torch.nn.Linear(8, 2), torch.nn.LayerNorm(2), torch.nn.Linear(2, 1)

        def forward(self, x):
            h = torch.nn.functional.silu(self.ln(self.lin(x)))
            v, w = h[:, 0], h[:, 1]
            for _ in range(K):
                v, w = v + dt * (I - v * (v - a) * (v - 1) - w), w + dt * b * (v - g * w)
            return self.out(torch.stack([v, w], dim=1))

    t_torch = peer_time(_torch_epoch(torch, Block(), X, Y, order, 32), repeat=1 if X.shape[0] < 14464 else 2)
    model = DynPMNN(seed=0)
    opt = Adam(model.params, lr=5e-4, weight_decay=5e-3)
    with np.errstate(all="ignore"):
        model.train_epoch(X, Y, order, 32, opt)  # compile / load the cached kernel
        benchmark(model.train_epoch, X, Y, order, 32, opt)
    t_ours = (benchmark.stats.stats.min if benchmark.stats
              else peer_time(lambda: model.train_epoch(X, Y, order, 32, opt), repeat=1))
    benchmark.extra_info.update({"rows": X.shape[0], "batch": 32, "torch_s": t_torch, "fastdds_s": t_ours,
                                 "speedup_vs_torch": t_torch / t_ours})


def test_cfc_epoch_vs_ncps(benchmark, request, peer_time):
    torch = pytest.importorskip("torch")
    ncps_torch = pytest.importorskip("ncps.torch")
    X, Y, order = _data(request)
    peer = ncps_torch.CfC(8, 64, proj_size=1, batch_first=True, return_sequences=False)

    class Seq1(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.cfc = peer

        def forward(self, x):
            return self.cfc(x[:, None, :])[0]

    t_ncps = peer_time(_torch_epoch(torch, Seq1(), X, Y, order, 256), repeat=1 if X.shape[0] < 14464 else 3)
    X, Y = X.astype(np.float32), Y.astype(np.float32)  # like for like: PyTorch trains in float32
    model = CfC(units=64, backbone=128, seed=0, dtype=np.float32)
    opt = Adam(model.params, lr=5e-4, weight_decay=5e-3)

    def epoch():
        for i in range(0, order.size, 256):
            idx = order[i:i + 256]
            y, cache = model.forward(X[idx])
            opt.step(model.backward(cache, (2.0 / idx.size) * (y - Y[idx]))[1])

    benchmark(epoch)
    t_ours = benchmark.stats.stats.min if benchmark.stats else peer_time(epoch, repeat=1)
    benchmark.extra_info.update({"rows": X.shape[0], "batch": 256, "dtype": "float32", "ncps_s": t_ncps,
                                 "fastdds_s": t_ours, "speedup_vs_ncps": t_ncps / t_ours})
