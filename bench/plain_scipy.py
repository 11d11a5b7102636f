"""The baseline for bench_batch.py: parse spec files with tomli, solve each with linprog (HiGHS).

One process, no validation, no verification, no diagnosis: the least a script could do to
answer the same linear program as deter (spec format v1, docs/model.md):

    minimise   sum_j c_j x_j
    subject to P_i <= sum_j q_ij x_j,  P_i <= 1                         (detection)
               d_i P_i - d_0 (f . x) >= u(g_i) - u(g_0) + margin          (deterrence)
               min_rate_j <= x_j <= max_rate_j,  sum_j c_j x_j <= budget
    with u the CARA utility, d_i = u(g_i) - u(g_i - F_i), d_0 = u(g_0) - u(g_0 - F_fp).

Usage: python bench/plain_scipy.py FOLDER [--jsonl]   (prints one line per file with --jsonl)
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import tomli
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, hstack, identity, vstack


def utility(w: np.ndarray | float, r: float) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    return w if r == 0 else (1.0 - np.exp(-r * w)) / r


def solve(doc: dict) -> tuple[str, float | None]:
    agent = doc.get("agent", {})
    actions = doc["actions"]
    names = [a["name"] for a in actions]
    compliant = names.index(agent.get("compliant", names[0]))
    monitors = [dict(m) for m in doc.get("monitors", [])]
    for a in actions:
        if "audit_cost" in a:
            detects = {a["name"]: a.get("audit_detection", 1.0)}
            monitors.append({"cost": a["audit_cost"], "detects": detects})
    r = float(agent.get("risk_aversion", 0.0))
    margin = float(agent.get("margin", 0.0))
    default_cap = agent.get("penalty_cap", 0.0)
    dev = [i for i in range(len(actions)) if i != compliant]
    row = {i: k for k, i in enumerate(dev)}
    n, m = len(dev), len(monitors)
    g = np.array([float(a["gain"]) for a in actions])
    cap = np.array([float(actions[i].get("penalty_cap", default_cap)) for i in dev])
    rel = g[dev] - g[compliant]
    d = utility(rel, r) - utility(rel - cap, r)
    d0 = float(utility(0.0, r) - utility(-float(agent.get("false_positive_penalty", 0.0)), r))
    need = utility(rel, r) + margin * (math.exp(r * g[compliant]) if r else 1.0)
    rows, cols, vals = [], [], []
    for j, mon in enumerate(monitors):
        for action, q in mon.get("detects", {}).items():
            rows.append(row[names.index(action)])
            cols.append(j)
            vals.append(q)
    q = coo_matrix((vals, (rows, cols)), shape=(n, m))
    f = np.array([float(mon.get("false_positive", 0.0)) for mon in monitors])
    cost = np.array([float(mon["cost"]) for mon in monitors])
    # variables (x_1..x_m, P_1..P_n)
    a_detect = hstack([-q, identity(n)])  # P - Qx <= 0
    a_deter = hstack([coo_matrix(d0 * np.tile(f, (n, 1))), coo_matrix(-np.diag(d))])
    a_ub = vstack([a_detect, a_deter])
    b_ub = np.concatenate([np.zeros(n), -need])
    budget = doc.get("oversight", {}).get("budget")
    if budget is not None:
        a_ub = vstack([a_ub, coo_matrix(np.concatenate([cost, np.zeros(n)])[None, :])])
        b_ub = np.append(b_ub, budget)
    bounds = [(mon.get("min_rate", 0.0), mon.get("max_rate", 1.0)) for mon in monitors]
    bounds += [(0.0, 1.0)] * n
    c = np.concatenate([cost, np.zeros(n)])
    res = linprog(c, A_ub=a_ub.tocsr(), b_ub=b_ub, bounds=bounds, method="highs")
    if res.status == 0:
        return "optimal", float(cost @ res.x[:m])
    return ("infeasible" if res.status == 2 else "solver_error"), None


def main(folder: str, jsonl: bool) -> int:
    solved = 0
    for path in sorted(Path(folder).rglob("*.toml")):
        with open(path, "rb") as handle:
            document = tomli.load(handle)
        try:
            status, cost = solve(document)
        except ArithmeticError:
            # a CARA utility beyond float range (math.exp overflows): a loop that stopped here
            # would time fewer specs than deter answers, so it answers and goes on
            status, cost = "solver_error", None
        solved += status == "optimal"
        if jsonl:
            print(json.dumps({"file": str(path), "status": status, "total_cost": cost}))
    return 0 if solved else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--jsonl" in sys.argv))
