"""Results report: a D4RL-style table (Markdown and CSV) and learning curves from run workdirs.

  python experiments/report.py --runs="X-QL=runs/maze/xql_3seeds,IQL=runs/maze/iql_3seeds" --out=docs/report
  python experiments/report.py --runs="X-QL=runs/a/seed0+runs/b/seed0,SAC=runs/sac" --out=report

Each LABEL=workdir[+workdir...] names a method: single-seed runs, several joined by '+', or a
multi-seed run (a sweep's settings become methods of their own). Writes <out>.md, <out>.csv and
<out>_curves.png (mean over seeds with a shaded +- std band, one panel per environment).
"""

import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from absl import app, flags
from common import labelled_workdirs, parse_flags

from xql_jax import report

flags.DEFINE_list("runs", None, "LABEL=workdir[+workdir...] pairs.", required=True)
flags.DEFINE_string("out", "report", "Output prefix: <out>.md, <out>.csv, <out>_curves.png.")
flags.DEFINE_string("xlabel", "steps", "x-axis label of the curves.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    results = []
    for method, workdirs in labelled_workdirs(FLAGS.runs):
        try:
            results += report.collect(method, workdirs)
        except FileNotFoundError as e:
            raise app.UsageError(str(e)) from None
    rows = report.table(results)
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
    with open(FLAGS.out + ".md", "w") as f:
        f.write(report.markdown(rows))
    with open(FLAGS.out + ".csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    envs = list(dict.fromkeys(r.env_name for r in results))
    fig, axes = plt.subplots(1, len(envs), figsize=(6 * len(envs), 4), squeeze=False)
    for ax, env in zip(axes[0], envs, strict=True):
        for method in dict.fromkeys(r.method for r in results if r.env_name == env):
            group = [r for r in results if (r.env_name, r.method) == (env, method)]
            steps, mean, std = report.mean_curve(group)
            ax.plot(steps, mean, label=f"{method} (n={len(group)})")
            ax.fill_between(steps, mean - std, mean + std, alpha=0.2)
        ax.set_title(env)
        ax.set_xlabel(FLAGS.xlabel)
        ax.set_ylabel(results[0].metric.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(FLAGS.out + "_curves.png", dpi=120)
    print(open(FLAGS.out + ".md").read())
    print(f"wrote {FLAGS.out}.md, {FLAGS.out}.csv and {FLAGS.out}_curves.png")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
