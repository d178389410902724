"""Plot evaluation curves (normalized score vs learner steps) of one or more workdirs.

  python experiments/plot_curves.py --runs=X-QL=runs/a,IQL=runs/b --out=docs/curve.png

A label may name several workdirs joined by '+' (seeds): their mean is drawn with a min-max band,
at the steps every seed evaluated (matched by step, not by row; steps only some seeds reached are
left out and counted in the legend). Rows cut off by a kill are skipped; eval.csv is read when a
workdir has no eval.jsonl.
"""

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from absl import app, flags
from common import labelled_workdirs, parse_flags

from xql_jax import report

flags.DEFINE_list("runs", None, "LABEL=workdir[+workdir...] pairs.", required=True)
flags.DEFINE_string("out", "curve.png", "Output PNG.")
flags.DEFINE_string("metric", "normalized_score", "Column of eval.jsonl to plot.")
flags.DEFINE_string("title", "", "Plot title.")
flags.DEFINE_string("xlabel", "learner steps", "x-axis label (online runs: environment steps).")
FLAGS = flags.FLAGS


def read_curve(workdir, metric):
    if not any(os.path.isfile(os.path.join(workdir, name)) for name in ("eval.jsonl", "eval.csv")):
        if os.path.isfile(os.path.join(workdir, "summary.json")):
            diverged = json.load(open(os.path.join(workdir, "summary.json"))).get("diverged")
            if diverged:
                raise app.UsageError(
                    f"{workdir} has no evaluation: it diverged before its first ({diverged})"
                )
        raise app.UsageError(f"no eval.jsonl or eval.csv in {workdir}: is it a training workdir?")
    steps, values = report.read_curve(workdir, metric)
    if not len(steps):
        raise app.UsageError(f"no complete evaluation with {metric!r} in {workdir}")
    return steps, values


def main(_):
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, workdirs in labelled_workdirs(FLAGS.runs):
        curves = [read_curve(d, FLAGS.metric) for d in workdirs]
        steps, values, dropped = report.aligned_curves(curves)
        if not len(steps):
            raise app.UsageError(f"{label}: its workdirs share no evaluation step")
        note = f"; left out {dropped} step(s) only some seeds evaluated" if dropped else ""
        ax.plot(steps, values.mean(0), label=f"{label} (n={len(curves)}{note})")
        if len(curves) > 1:
            ax.fill_between(steps, values.min(0), values.max(0), alpha=0.2)
        if dropped:
            print(
                f"{label}: mean over {len(curves)} seeds at the {len(steps)} steps all evaluated; {note[2:]}"
            )
    ax.set_xlabel(FLAGS.xlabel)
    ax.set_ylabel(FLAGS.metric.replace("_", " "))
    ax.set_title(FLAGS.title)
    ax.grid(alpha=0.3)
    ax.legend()
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
    fig.tight_layout()
    fig.savefig(FLAGS.out, dpi=120)
    print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
