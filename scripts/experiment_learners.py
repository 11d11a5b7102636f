"""The learners experiment on both envs (issue 23 item 3; docs/experiments.md, "Both envs").

Resumable, in chunks that fit a shared machine: every run is saved on its own and skipped
when it exists, and ``--minutes`` stops starting new runs after that long.

    python scripts/experiment_learners.py policies OUT
    python scripts/experiment_learners.py ppo-policies OUT    # the PPO study's conditions
    python scripts/experiment_learners.py ppo OUT coding --seeds 10 --timesteps 10000
    python scripts/experiment_learners.py ppo OUT long --seeds 10 --timesteps 15000
    python scripts/experiment_learners.py learners OUT coding --seeds 3 --agents 200 \\
        --episodes 40000 --epsilon 0.3
    python scripts/experiment_learners.py learners OUT long --seeds 3 --agents 200 \\
        --episodes 5000 --epsilon 0.3
    python scripts/experiment_learners.py curve OUT long --labels LABEL --timesteps 100000
    python scripts/experiment_learners.py summary OUT

``OUT/policies-ENV.json`` holds the policy documents; ``OUT/runs/ENV/ppo/LABEL-seedS.json``
each PPO run (figures, violation curve, final choices); ``OUT/runs/ENV/LEARNER.json`` each
population learner's rows with their curves; ``summary`` writes ``OUT/results.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from pathlib import Path
from typing import Any

from deter.solver.rl.experiment import (
    build_conditions,
    learner_samples,
    markdown_table,
    run_ppo,
    run_tabular,
)
from deter.solver.rl.population import LEARNERS, Task
from deter.solver.rl.study import (
    LONG_TASK,
    long_conditions,
    run_learners,
    run_ppo_long,
    summarise_ppo,
)

#: The long task of the experiment (the env's defaults; the learner's discount 0.95).
LONG = LONG_TASK
CODING = Task()
#: The learning-aware design's learner: the samples an epsilon 0.3 learner has of each
#: action after 40,000 episodes, and 1 - delta / 3 per shortcut (delta 0.05).
LEARNER = {"samples": learner_samples(40_000, 0.3, 4), "confidence": 1 - 0.05 / 3}
#: In the long task no policy gives 3,000 samples their margins (kappa = 0.735 shrinks what
#: human review can put against sandbagging): the fewest that are feasible, with Bernstein.
LEARNER_LONG = {"samples": 6000, "confidence": 1 - 0.05 / 3}


def task_of(env: str) -> Task:
    return {"coding": CODING, "long": LONG}[env]


def slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", label).strip("_")


def policies(out: Path, env: str) -> list[dict[str, Any]]:
    return json.loads((out / f"policies-{env}.json").read_text())


def write_policies(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    coding = build_conditions(learner=LEARNER)
    long = long_conditions(LONG, margin=0.15, learner=LEARNER_LONG)
    for env, docs in (("coding", coding), ("long", long)):
        (out / f"policies-{env}.json").write_text(json.dumps(docs, indent=1))
        print(env, [(d["label"], round(d["designed"]["cost_per_episode"], 3)) for d in docs])


#: The PPO study's conditions (docs/experiments.md, "PPO with its own credit"): the
#: learning-aware (Bernstein), x1.2 and margin policies of each env, and on the long env the
#: PPO-aware design for GAE lambda 0.95, which has a policy only from 3,000,000 samples.
PPO_LABELS = {
    "coding": ["learning-aware, bernstein (n 3000, 1-delta 0.9833)", "optimal x1.2",
               "optimal, margin 0.5"],
    "long": ["learning-aware, bernstein (n 6000, 1-delta 0.9833)", "optimal x1.2",
             "optimal, margin 0.15"],
}  # fmt: skip
PPO_AWARE = {"samples": 3_000_000, "confidence": 1 - 0.05 / 3}


def write_ppo_policies(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    coding = build_conditions(learner=LEARNER)
    long = long_conditions(LONG, margin=0.15, learner=LEARNER_LONG)
    aware = long_conditions(LONG, margin=0.15, learner=PPO_AWARE, ppo_lambda=0.95)
    pick = {
        "coding": [next(d for d in coding if d["label"] == x) for x in PPO_LABELS["coding"]],
        "long": [d for d in aware if d["label"].startswith("ppo-aware")]
        + [next(d for d in long if d["label"] == x) for x in PPO_LABELS["long"]],
    }
    for env, docs in pick.items():
        (out / f"policies-{env}.json").write_text(json.dumps(docs, indent=1))
        print(env, [(d["label"], round(d["designed"]["cost_per_episode"], 3)) for d in docs])


def ppo(
    out: Path,
    env: str,
    seeds: range,
    timesteps: int,
    labels: list[str],
    minutes: float,
    gae_lambda: float = 0.95,
) -> None:
    folder = out / "runs" / env / ("ppo" if gae_lambda == 0.95 else f"ppo-lambda{gae_lambda:g}")
    folder.mkdir(parents=True, exist_ok=True)
    started = time.time()
    for s in seeds:
        for doc in policies(out, env):
            if labels and doc["label"] not in labels:
                continue
            path = folder / f"{slug(doc['label'])}-seed{s}.json"
            if path.exists():
                continue
            if time.time() - started > 60 * minutes:
                print("time is up; run again to continue", flush=True)
                return
            if env == "long":
                run = run_ppo_long(
                    doc, task=LONG, seed=s, timesteps=timesteps, gae_lambda=gae_lambda
                )
            else:
                t = time.perf_counter()
                row = run_ppo([doc], seeds=1, timesteps=timesteps, seed=s, curve_points=100)[0]
                after = row.metrics["violation_after"][0] == 1.0
                run = {
                    "label": doc["label"], "seed": s, "timesteps": timesteps,
                    "violation_during": row.metrics["violation_during"][0],
                    "violation_after": after, "final_actions": row.after_actions,
                    "oversight_cost": row.metrics["oversight_cost"][0],
                    "honest_false_flag_loss": row.metrics["honest_false_flag_loss"][0],
                    "training_return": row.metrics["training_reward"][0],
                    "curve": row.curve_mean, "seconds": time.perf_counter() - t,
                }  # fmt: skip
            path.write_text(json.dumps(run))
            print(
                env, doc["label"], s, run["violation_after"], f"{run['seconds']:.1f} s", flush=True
            )


def curve(out: Path, env: str, label: str, seed: int, timesteps: int, gae_lambda: float) -> None:
    """One long PPO run of one policy, saved with its learning curve (how many steps PPO
    needs: OUT/curves/ENV-SLUG-lambdaL-Nk-seedS.json)."""
    doc = next((d for d in policies(out, env) if d["label"] == label), None)
    if doc is None:
        raise SystemExit(f"no policy {label!r} in {out / f'policies-{env}.json'}")
    folder = out / "curves"
    folder.mkdir(parents=True, exist_ok=True)
    if env == "long":
        run = run_ppo_long(doc, task=LONG, seed=seed, timesteps=timesteps, gae_lambda=gae_lambda)
    else:
        t = time.perf_counter()
        row = run_ppo([doc], seeds=1, timesteps=timesteps, seed=seed, curve_points=50)[0]
        run = {
            "label": label, "seed": seed, "timesteps": timesteps, "gae_lambda": 0.95,
            "violation_after": row.metrics["violation_after"][0] == 1.0,
            "final_actions": row.after_actions, "curve": row.curve_mean,
            "seconds": time.perf_counter() - t,
        }  # fmt: skip
    name = f"{env}-{slug(label)}-lambda{gae_lambda:g}-{timesteps // 1000}k-seed{seed}.json"
    (folder / name).write_text(json.dumps(run))
    print(name, run["violation_after"], f"{run['seconds']:.1f} s", flush=True)


def learners(out: Path, env: str, names: list[str], labels: list[str], **options: Any) -> None:
    for name in names:
        folder = out / "runs" / env / name
        folder.mkdir(parents=True, exist_ok=True)
        for doc in policies(out, env):
            path = folder / f"{slug(doc['label'])}.json"
            if (labels and doc["label"] not in labels) or path.exists():
                continue
            t = time.perf_counter()
            if env == "coding":  # the one-step experiment's own runner (solver/rl/experiment.py)
                rows = run_tabular([doc], learner=name, **options)
            else:
                rows = run_learners([doc], name, task=LONG, **options)
            path.write_text(json.dumps({"options": options, "rows": [r.to_dict() for r in rows]}))
            print(env, name, doc["label"], f"{time.perf_counter() - t:.1f} s", flush=True)
            print(markdown_table(rows), flush=True)


def _nan(values: tuple[Any, ...]) -> tuple[float, float, float]:
    low_high = [math.nan if v is None else float(v) for v in values]
    return low_high[0], low_high[1], low_high[2]


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "-"
    share, low, high = row["violation_after"], *row["violation_after_ci"]
    return f"{share:.3f} [{low:.3f}, {high:.3f}]"


def headline(out: Path, env: str, docs: list[dict[str, Any]], delta: float = 0.05) -> str:
    """One row per policy: designed cost and each learner's violation after training (Wilson
    95%), and whether every learner's interval reaches delta under the learning-aware rows."""
    learners = [
        p.name for p in sorted((out / "runs" / env).iterdir()) if not p.name.startswith("ppo")
    ]
    head = "| policy | designed cost | " + " | ".join([*learners, "PPO"]) + " |"
    lines = [head, "|" + "---|" * (len(learners) + 3)]
    for doc in docs:
        cells = []
        for name in learners:
            path = out / "runs" / env / name / f"{slug(doc['label'])}.json"
            cells.append(_cell(json.loads(path.read_text())["rows"][0] if path.exists() else None))
        runs = [
            json.loads(p.read_text())
            for p in sorted((out / "runs" / env / "ppo").glob(f"{slug(doc['label'])}-seed*.json"))
        ]
        if runs:
            row = summarise_ppo(runs, doc, task_of(env)).to_dict()
            cells.append(_cell(row) + f" ({sum(r['violation_after'] for r in runs)}/{len(runs)})")
        else:
            cells.append("-")
        cost = doc["designed"]["cost_per_episode"]
        lines.append(f"| {doc['label']} | {cost:.3f} | " + " | ".join(cells) + " |")
    return f"### {env}: violation after training, every learner\n\n" + "\n".join(lines) + "\n"


def ppo_states(out: Path, env: str, docs: list[dict[str, Any]]) -> str:
    """PPO: the share of work states in which the final policy takes a possible shortcut
    (long env; mean over seeds, range)."""
    lines = ["| policy | shortcut states, mean over seeds | min | max |", "|---|---|---|---|"]
    for doc in docs:
        runs = [
            json.loads(p.read_text())
            for p in sorted((out / "runs" / env / "ppo").glob(f"{slug(doc['label'])}-seed*.json"))
        ]
        shares = [r["shortcut_state_share"] for r in runs if "shortcut_state_share" in r]
        if shares:
            lines.append(
                f"| {doc['label']} | {sum(shares) / len(shares):.3f} | {min(shares):.3f} "
                f"| {max(shares):.3f} |"
            )
    return "\n".join(lines) + "\n" if len(lines) > 2 else ""


def summary(out: Path) -> None:
    from deter.solver.rl.experiment import ConditionResult

    lines = []
    for env in ("coding", "long"):
        if not (out / "runs" / env).is_dir():
            continue
        docs = policies(out, env)
        costs = (f"{d['label']} ({d['designed']['cost_per_episode']:.3f})" for d in docs)
        lines.append(f"## {env}\n\npolicies: " + ", ".join(costs) + "\n")
        for folder in sorted(
            p for p in (out / "runs" / env).iterdir() if not p.name.startswith("ppo")
        ):
            datas = [
                json.loads((folder / f"{slug(d['label'])}.json").read_text())
                for d in docs
                if (folder / f"{slug(d['label'])}.json").exists()
            ]
            if not datas:
                continue
            rows = [
                ConditionResult(
                    label=r["label"], learner=r["learner"], seeds=r["seeds"],
                    predicted_action=r["predicted_action"], designed_cost=r["designed_cost"],
                    metrics={k: _nan((r[k], *r[f"{k}_ci"])) for k in (
                        "violation_during", "violation_after", "oversight_cost",
                        "honest_false_flag_loss", "training_reward")},
                    after_actions=r["after_actions"],
                )
                for data in datas for r in data["rows"]
            ]  # fmt: skip
            lines.append(f"### {folder.name} ({datas[0]['options']})\n\n" + markdown_table(rows))
        ppo_rows = []
        for doc in docs:
            runs = [
                json.loads(p.read_text())
                for p in sorted(
                    (out / "runs" / env / "ppo").glob(f"{slug(doc['label'])}-seed*.json")
                )
            ]
            if runs:
                ppo_rows.append(summarise_ppo(runs, doc, task_of(env)))
        if ppo_rows:
            lines.append(f"### PPO ({ppo_rows[0].seeds} seeds)\n\n" + markdown_table(ppo_rows))
            lines.append(ppo_states(out, env, docs))
        lines.append(headline(out, env, docs))
    (out / "results.md").write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "step", choices=("policies", "ppo-policies", "ppo", "curve", "learners", "summary")
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("env", nargs="?", choices=("coding", "long"))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--timesteps", type=int, default=10_000)
    parser.add_argument("--labels", nargs="*", default=[])
    parser.add_argument("--minutes", type=float, default=9.0)
    parser.add_argument("--gae-lambda", type=float, default=0.95, help="PPO on the long env")
    parser.add_argument("--learners", nargs="*", default=list(LEARNERS))
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--episodes", type=int, default=5000)
    parser.add_argument("--epsilon", type=float, default=0.3)
    args = parser.parse_args()
    if args.step == "policies":
        write_policies(args.out)
    elif args.step == "ppo-policies":
        write_ppo_policies(args.out)
    elif args.step == "summary":
        summary(args.out)
    elif args.env is None:
        parser.error(f"{args.step} needs an env: coding or long")
    elif args.step == "curve":
        if len(args.labels) != 1:
            parser.error("curve needs one policy: --labels LABEL")
        curve(args.out, args.env, args.labels[0], args.first_seed, args.timesteps, args.gae_lambda)
    elif args.step == "ppo":
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        ppo(args.out, args.env, seeds, args.timesteps, args.labels, args.minutes, args.gae_lambda)
    else:
        unknown = set(args.learners) - set(LEARNERS)
        if unknown:
            parser.error(f"unknown learners {sorted(unknown)}; choose from {LEARNERS}")
        learners(
            args.out, args.env, args.learners, args.labels, seeds=args.seeds, agents=args.agents,
            episodes=args.episodes, epsilon=args.epsilon,
        )  # fmt: skip


if __name__ == "__main__":
    main()
