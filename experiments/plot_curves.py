"""Plot evaluation curves (normalized score vs learner steps) of one or more workdirs.

  python experiments/plot_curves.py --runs=X-QL=runs/a,IQL=runs/b --out=docs/curve.png

A label may name several workdirs joined by '+' (seeds): their mean is drawn with a min-max band.
"""

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from absl import app, flags
from common import labelled_workdirs, parse_flags

flags.DEFINE_list("runs", None, "LABEL=workdir[+workdir...] pairs.", required=True)
flags.DEFINE_string("out", "curve.png", "Output PNG.")
flags.DEFINE_string("metric", "normalized_score", "Column of eval.jsonl to plot.")
flags.DEFINE_string("title", "", "Plot title.")
flags.DEFINE_string("xlabel", "learner steps", "x-axis label (online runs: environment steps).")
FLAGS = flags.FLAGS


def read_curve(workdir, metric):
    path = os.path.join(workdir, "eval.jsonl")
    if not os.path.isfile(path):
        raise app.UsageError(f"no eval.jsonl in {workdir}: is it a training workdir?")
    rows = [json.loads(line) for line in open(path)]
    return np.array([r["step"] for r in rows]), np.array([r[metric] for r in rows], float)


def main(_):
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, workdirs in labelled_workdirs(FLAGS.runs):
        curves = [read_curve(d, FLAGS.metric) for d in workdirs]
        length = min(len(steps) for steps, _ in curves)
        steps = curves[0][0][:length]
        values = np.stack([v[:length] for _, v in curves])
        ax.plot(steps, values.mean(0), label=f"{label} (n={len(curves)})")
        if len(curves) > 1:
            ax.fill_between(steps, values.min(0), values.max(0), alpha=0.2)
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
