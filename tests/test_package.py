"""The package installs and imports like a package: wheel contents, import from anywhere, no cycles."""

import ast
import glob
import os
import shutil
import subprocess
import sys
import zipfile

from tests.conftest import ROOT

PACKAGE = os.path.join(ROOT, "xql_jax")


def _modules():
    """{dotted module name: file} for every module of the package."""
    modules = {}
    for path in glob.glob(os.path.join(PACKAGE, "**", "*.py"), recursive=True):
        relative = os.path.relpath(path, ROOT)[: -len(".py")].split(os.sep)
        if relative[-1] == "__init__":
            relative = relative[:-1]
        modules[".".join(relative)] = path
    return modules


def test_wheel_ships_every_module_and_the_behavior_policies(tmp_path):
    # Built from a copy of the sources, so a stale build/ folder of the work tree cannot leak in.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(".git", ".venv", "build", "runs", "*.egg-info", "__pycache__"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(source), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = glob.glob(str(tmp_path / "xql_jax-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {os.path.relpath(path, ROOT) for path in _modules().values()}
    policies = glob.glob(os.path.join(PACKAGE, "data", "behavior_policies", "*"))
    expected |= {os.path.relpath(path, ROOT) for path in policies}
    assert len(policies) >= 6 and any(p.endswith(".npz") for p in policies)
    assert expected <= names, sorted(expected - names)
    shipped = {n for n in names if n.startswith("xql_jax/")}
    assert shipped == expected, sorted(shipped - expected)  # nothing else (no stale modules)


def test_import_from_another_directory(tmp_path):
    script = (
        "import os\n"
        "import xql_jax, xql_jax.data.sources, xql_jax.made_datasets as m\n"
        "from xql_jax.configs import locomotion as c\n"
        "here = os.path.dirname(xql_jax.__file__)\n"
        "print(here, c.get_config().agent.beta, os.path.isfile(m.info_path('hopper')))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    location, beta, policies = result.stdout.split()
    assert os.path.isfile(os.path.join(location, "data", "behavior_policies", "hopper.json"))
    assert (beta, policies) == ("2.0", "True")


def test_no_import_cycle_in_the_package():
    """Every import inside xql_jax (function-level ones too) points one way: the graph is acyclic."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from pkg import sub` imports the submodule sub when there is one.
                targets = [
                    f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                    for alias in node.names
                ]
            else:
                continue
            edges |= {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}
        graph[name] = edges

    state = {}

    def visit(node, path):
        state[node] = "open"
        for child in sorted(graph[node]):
            if state.get(child) == "open":
                cycle = path[path.index(child) :] + [child]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if child not in state:
                visit(child, path + [child])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    # The layers the registry relies on: environments know no datasets.
    assert not any(m.startswith("xql_jax.data") for m in graph["xql_jax.envs"])
    assert not any(m.startswith("xql_jax.data") for m in graph["xql_jax.d4rl_envs"])
