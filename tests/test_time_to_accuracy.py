"""Time to accuracy: FD refinement (monotone, the schemes' orders), the PINN error recorded during
training (equal to an evaluation afterwards, losses unchanged by the hook, kept across a resume),
the analytic FLOP counts, `fastdds reproduce cost --quick` and bad input."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from fastdds import cli
from fastdds.analysis import time_to_accuracy as T
from fastdds.nn.mlp import MLP
from fastdds.pde import burgers as B
from fastdds.pde.eikonal import hj1d_solve
from fastdds.pinn import problems
from fastdds.pinn.reproduce import error_at_time
from fastdds.pinn.train import train

# ---------------------------------------------------------------- FD over a grid refinement


@pytest.mark.parametrize("name, scheme, t_eval", [("burgers-viscous", "eo", 0.3), ("raissi-burgers", "muscl-rk3", 0.1)])
def test_fd_refinement_converges_at_the_scheme_order(name, scheme, t_eval):
    rows = T.fd_refinement(T.PROBLEMS[name], scheme, levels=4, t_eval=t_eval, stop_at=0.0)
    assert [r["nx"] for r in rows] == [100, 199, 397, 793]
    errors, flops = [r["L2"] for r in rows], [r["flops"] for r in rows]
    assert all(b < a for a, b in zip(errors, errors[1:])) and all(b > a for a, b in zip(flops, flops[1:]))
    # eo first order, MUSCL-RK3 (minmod) second order on the smooth solution
    assert abs(T.convergence_order(rows[-3:]) - B.get_scheme(scheme).order) < 0.15


def test_fd_thresholds_reached_as_the_order_predicts():
    # e ~ C h^p: from the grid that reaches 1e-2 to the one that reaches 1e-3 (eo, p = 1) or 1e-4
    # (MUSCL-RK3, p = 2) takes about log2(10) / p, resp. log2(100) / p, grid doublings
    problem = T.PROBLEMS["burgers-viscous"]
    for scheme, last, doublings in (("eo", 1e-3, math.log2(10)), ("muscl-rk3", 1e-4, math.log2(100) / 2)):
        rows = T.fd_refinement(problem, scheme, levels=7, stop_at=last, max_seconds=20)
        hits = T.first_reached(rows, (1e-2, last))
        assert all(h is not None for h in hits) and hits[-1] is rows[-1]
        k = [int(round(math.log2((h["nx"] - 1) / 99))) for h in hits]
        assert abs((k[1] - k[0]) - doublings) <= 1.0
        assert hits[0]["wall_s"] <= hits[1]["wall_s"] and hits[0]["flops"] < hits[1]["flops"]
        assert all(r["compile_s"] >= 0 and r["wall_s"] > 0 for r in rows)


def test_fd_eikonal_error_against_the_exact_solution():
    rows = T.fd_refinement(T.PROBLEMS["eikonal"], "godunov", levels=3, stop_at=0.0)
    x = np.linspace(-1, 1, rows[0]["nx"])
    _, u, _ = hj1d_solve(rows[0]["nx"], "godunov", 0.9, 0.7)
    assert rows[0]["L2"] == pytest.approx(np.sqrt(np.mean((u - np.minimum(1 - np.abs(x), 0.7)) ** 2)), rel=1e-12)
    assert rows[0]["L2"] > rows[1]["L2"] > rows[2]["L2"]


def test_flop_counts():
    # eo: 14 operations a node; MUSCL-RK3: 3 stages of 38 plus 3 for each of the 2 combining stages
    assert T.fd_flops("eo", 5, 2) == 14 * 3 * 2
    assert T.fd_flops("muscl-rk3", 5, 2) == (3 * 38 + 6) * 3 * 2
    assert T.fd_flops("godunov", 5, 2) == 18 * 3 * 2
    # PINN 2-3-1: M = 2*3 + 3*1 = 9, M_hidden = 3; a data group (S = R = 1) of 5 points:
    # 5 (2*9 + 2*(9 + 3)) = 210; a viscous Burgers residual group (S = 4 streams u, u_x, u_t, u_xx;
    # R = 3: u, u_x that u_xx needs, one leaf chain) of 7 points: 7 (2*4*9 + 2*3*12) = 1008
    tiny = replace(T.cost_target("burgers-viscous")[0], layers=(2, 3, 1))
    prob = problems.Problem("p", problems.res.Burgers(0.1), np.zeros(2), np.ones(2),
                            [problems.Group("d", np.zeros((5, 2)), np.zeros((5, 1))),
                             problems.Group("r", np.zeros((7, 2)))])
    assert T.pinn_flops(tiny, prob) == 210 + 1008


# ---------------------------------------------------------------- PINN error along the training


def _eikonal():
    return problems.eikonal_time(2, n_collocation=300, n_terminal=40, n_side=40)


def _train(evaluate=None, **kw):
    p = _eikonal()
    net = MLP([2, 12, 12, 1], activation="leaky_relu", seed=4)
    hook = {} if evaluate is None else {"evaluate": evaluate(p), "evaluate_every": 7}
    hist = train(net, p, adam_steps=40, lr=1e-2, lbfgs_maxiter=15, progress=False, **hook, **kw)
    return net, p, hist


def test_recorded_errors_match_an_evaluation_after_training_and_leave_losses_unchanged():
    plain_net, _, plain = _train()
    net, p, hist = _train(lambda p: error_at_time(p, 0.3, 201))
    # the hook only reads the network: the same losses and parameters, bit for bit
    assert np.array_equal(plain["loss_adam"], hist["loss_adam"]) and np.array_equal(plain["loss_lbfgs"],
                                                                                    hist["loss_lbfgs"])
    assert all(np.array_equal(a, b) for a, b in zip(plain_net.params, net.params))
    ev = hist["evaluations"]
    steps = [(e["adam_steps"], e["lbfgs_iters"]) for e in ev]
    assert steps[0] == (0, 0) and steps[1] == (7, 0) and (40, 0) in steps
    assert steps[-1] == (40, hist["lbfgs_iters"]) and len(set(steps)) == len(steps)
    assert all(b["wall_time"] >= a["wall_time"] for a, b in zip(ev, ev[1:]))
    assert all(b["grad_evals"] > a["grad_evals"] for a, b in zip(ev, ev[1:]))
    assert ev[0]["grad_evals"] == 1 and ev[-1]["grad_evals"] == hist["grad_evals"]
    # the last record is the trained network measured independently
    x = np.linspace(-1, 1, 201)
    u = net(np.stack([x, np.full_like(x, 0.3)], 1))[:, 0]
    e = u - np.minimum(1 - np.abs(x), 0.7)
    assert ev[-1]["L2"] == pytest.approx(np.sqrt(np.mean(e ** 2)), rel=1e-12)
    assert ev[-1]["Linf"] == pytest.approx(np.abs(e).max(), rel=1e-12)
    assert ev[-1]["L2"] < 0.8 * ev[1]["L2"]  # training improves on its first checkpoint (u = 0 at step 0 is close)


def test_recorded_errors_survive_a_resume(tmp_path):
    _, _, straight = _train(lambda p: error_at_time(p, 0.3, 101))
    p = _eikonal()
    ckpt = tmp_path / "c.npz"
    net = MLP([2, 12, 12, 1], activation="leaky_relu", seed=4)
    train(net, p, adam_steps=21, lr=1e-2, progress=False, checkpoint=ckpt, evaluate=error_at_time(p, 0.3, 101),
          evaluate_every=7)
    again = MLP([2, 12, 12, 1], activation="leaky_relu", seed=0)
    hist = train(again, p, adam_steps=40, lr=1e-2, lbfgs_maxiter=15, progress=False, checkpoint=ckpt, resume=True,
                 evaluate=error_at_time(p, 0.3, 101), evaluate_every=7)
    a = [(e["adam_steps"], e["lbfgs_iters"], e["grad_evals"], e["L2"]) for e in straight["evaluations"]]
    b = [(e["adam_steps"], e["lbfgs_iters"], e["grad_evals"], e["L2"]) for e in hist["evaluations"]]
    assert a[:5] == b[:5] and len(a) == len(b)  # Adam bit for bit; L-BFGS restarts (close, not identical)
    assert np.array_equal(straight["loss_adam"], hist["loss_adam"])


# ---------------------------------------------------------------- the command


def test_reproduce_cost_quick_writes_table_and_json(tmp_path, capsys):
    rc = cli.main(["reproduce", "cost", "--quick", "--problems", "eikonal", "--fd-seconds", "0.01", "--out",
                   str(tmp_path), "--quiet"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "time to accuracy (quick)" in out and "absolute" in out and "FD godunov" in out and "PINN" in out
    data = json.loads((tmp_path / "cost_quick.json").read_text())
    rows = data["table"]
    assert [(r["method"], r["threshold"]) for r in rows] == [("FD godunov", t) for t in T.THRESHOLDS] + \
        [("PINN", t) for t in T.THRESHOLDS]
    fd = data["fd"]["eikonal"]["godunov"]["rows"]
    assert rows[0]["reached"] and rows[0]["time_s"] == next(r["wall_s"] for r in fd if r["L2"] <= 1e-2)
    pinn = data["pinn"]["eikonal"]
    assert pinn["adam_steps"] == 600 and pinn["evaluations"][-1]["flops"] == pinn["grad_evals"] * pinn["flops_per_eval"]
    for r in rows[3:]:
        assert r["reached"] or r["grid_or_steps"].startswith("not reached in 600 adam")
    assert (tmp_path / "pinn" / "eikonal" / "eikonal_quick.json").is_file()


def test_reproduce_cost_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "cost", "--problems", "heat"])
    assert "invalid choice: 'heat'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "cost", "--fd-seconds", "-1"])
    assert "not positive" in capsys.readouterr().err
    (tmp_path / "f").write_text("x")
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "cost", "--out", str(tmp_path / "f")])
    assert "is a file" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown problem 'heat'"):
        T.reproduce_cost(quick=True, out=tmp_path, problems=["heat"])
    with pytest.raises(ValueError, match="levels"):
        T.fd_refinement(T.PROBLEMS["eikonal"], "godunov", levels=0)
    with pytest.raises(ValueError, match="does not solve eikonal"):
        T.fd_run(T.PROBLEMS["eikonal"], "eo", 101)
    with pytest.raises(ValueError, match="at least two grids"):
        T.convergence_order([{"nx": 3, "L2": 1.0}])
    with pytest.raises(ValueError, match="at least 2 points"):
        error_at_time(_eikonal(), 0.3, 1)
    with pytest.raises(ValueError, match="evaluate_every=0"):
        train(MLP([2, 4, 1]), _eikonal(), adam_steps=1, evaluate=error_at_time(_eikonal()), evaluate_every=0,
              progress=False)
