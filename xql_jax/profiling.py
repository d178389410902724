"""Where a jitted step's time goes: a JAX profiler trace read back into top operations and a split
of the step time into compute, launch and host, on whatever device JAX runs (CPU or GPU).

The trace (``*.xplane.pb``, readable in TensorBoard's or Perfetto's profile viewer) holds one event
per executed XLA operation: on a GPU in the device plane's "XLA Ops" line (or its streams), on the
CPU in the lines of XLA's intra-op threads. The split of the traced window:

- compute: the time at least one operation ran (the union of their intervals), per step;
- host: the rest of the window, when no operation ran (Python, dispatch, transfers, waiting);
- launch: time spent issuing operations rather than running them: on a GPU the host's kernel-launch
  calls (which overlap the device's compute), on the CPU the thunk executor's time between the
  operations it ran (part of host).
Control-flow operations (while, call, conditional) enclose the operations they run and are left out.
"""

from __future__ import annotations

import collections
import glob
import os
from typing import Dict, List, Tuple

import jax

# CPU thread events that wrap or schedule operations rather than being one.
_CPU_WRAPPERS = ("ThunkExecutor", "ThreadpoolListener", "SlinkyThreadPool")
_CPU_OP_THREAD = "tf_XLAEigen"


def latest_trace(trace_dir: str) -> str:
    """The newest ``*.xplane.pb`` under ``trace_dir`` (jax.profiler writes one per trace)."""
    paths = glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True)
    if not paths:
        raise FileNotFoundError(f"no *.xplane.pb under {trace_dir}: was jax.profiler.trace run there?")
    return max(paths, key=os.path.getmtime)


def _union_ns(intervals: List[Tuple[int, int]]) -> int:
    total, end = 0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total


def _is_container(name: str) -> bool:
    """Control-flow operations whose events enclose the events of the operations they run."""
    return name.startswith(("while", "call", "conditional", "end: "))


def _events(path: str):
    """(device kind, op events [(name, start, stop)], launch ns) of one trace file."""
    data = jax.profiler.ProfileData.from_file(path)
    gpu_ops, cpu_ops, gpu_launch_ns, cpu_launch_ns = [], [], 0, 0
    for plane in data.planes:
        if plane.name.startswith("/device:") and "CPU" not in plane.name:
            lines = list(plane.lines)
            op_lines = [line for line in lines if line.name == "XLA Ops"]
            if not op_lines:
                op_lines = [line for line in lines if line.name.startswith("Stream")]
            for line in op_lines:
                gpu_ops += [(e.name, e.start_ns, e.end_ns) for e in line.events if not _is_container(e.name)]
            continue
        for line in plane.lines:
            executor, ops = [], []
            for event in line.events:
                if "LaunchKernel" in event.name or "cuLaunch" in event.name:
                    gpu_launch_ns += event.duration_ns
                if not line.name.startswith(_CPU_OP_THREAD):
                    continue
                if event.name.startswith("ThunkExecutor::Execute") and "wait" not in event.name:
                    executor.append((event.start_ns, event.end_ns))
                elif not event.name.startswith(_CPU_WRAPPERS) and not _is_container(event.name):
                    ops.append((event.name, event.start_ns, event.end_ns))
            # On this thread, the executor's time outside the operations it ran.
            cpu_launch_ns += max(_union_ns(executor) - _union_ns([(a, b) for _, a, b in ops]), 0)
            cpu_ops += ops
    if gpu_ops:
        return "gpu", gpu_ops, gpu_launch_ns
    return "cpu", cpu_ops, cpu_launch_ns


def summarize_trace(path: str, wall_seconds: float, steps: int, top: int = 15) -> Dict:
    """Top operations by total time and the per-step split of ``wall_seconds`` (the traced calls'
    wall time, ``steps`` learner steps in all) into compute, launch and host, in milliseconds."""
    kind, ops, launch_ns = _events(path)
    if not ops:
        raise ValueError(f"{path} holds no XLA operation events: nothing ran while it was traced")
    per_name = collections.defaultdict(lambda: [0, 0])
    for name, start, stop in ops:
        per_name[name][0] += stop - start
        per_name[name][1] += 1
    op_ns = sum(total for total, _ in per_name.values())
    busy_ns = _union_ns([(start, stop) for _, start, stop in ops])
    wall_ns = wall_seconds * 1e9
    ranked = sorted(per_name.items(), key=lambda item: -item[1][0])[:top]
    return {
        "device": kind,
        "steps": steps,
        "step_ms": wall_ns / steps / 1e6,
        "compute_ms": busy_ns / steps / 1e6,
        "launch_ms": launch_ns / steps / 1e6,
        "host_ms": max(wall_ns - busy_ns, 0) / steps / 1e6,
        "op_time_ms": op_ns / steps / 1e6,  # summed over threads/streams: above compute when parallel
        "top_ops": [
            {"name": name, "ms_per_step": total / steps / 1e6, "share": total / op_ns, "count": count}
            for name, (total, count) in ranked
        ],
    }


def format_summary(summary: Dict) -> str:
    """The summary as the lines the benchmark prints."""
    lines = [
        f"profile on {summary['device']}: {summary['step_ms']:.3f} ms per step = compute "
        f"{summary['compute_ms']:.3f} (operations running) + host {summary['host_ms']:.3f} (none "
        f"running); launch {summary['launch_ms']:.3f}; operation time summed over threads or "
        f"streams {summary['op_time_ms']:.3f}",
        f"top operations of {len(summary['top_ops'])}: ms per step, share of operation time, calls",
    ]
    for op in summary["top_ops"]:
        lines.append(f"  {op['ms_per_step']:8.4f}  {100 * op['share']:5.1f}%  {op['count']:7d}  {op['name']}")
    return "\n".join(lines)
