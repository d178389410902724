"""Datasets fetched by name (xql_jax.data.download) against an HTTP server on 127.0.0.1 started here:
a whole file, a connection cut half-way and resumed, a 404, an HTML page, an HDF5 file without
D4RL's keys, a stalled server, two processes asking for one file; Minari's download by its id."""

import http.server
import io
import os
import socket
import threading

import h5py
import numpy as np
import pytest

from tests.conftest import run_script
from xql_jax.data import DatasetError, d4rl, download, sources
from xql_jax.data.__main__ import main as data_main

NAME = "hopper-medium-v2"
# D4RL's URL of hopper-medium-v2 (d4rl/infos.py DATASET_URLS) below its base.
REMOTE_PATH = "/gym_mujoco_v2/hopper_medium-v2.hdf5"


def hopper_file_bytes(steps=400, keys=("observations", "actions", "rewards", "terminals", "timeouts")):
    """A small D4RL-layout HDF5 file with hopper's sizes (11-d observations, 3-d actions), as bytes."""
    rng = np.random.default_rng(0)
    arrays = {
        "observations": rng.normal(size=(steps, 11)).astype(np.float32),
        "actions": rng.uniform(-1, 1, size=(steps, 3)).astype(np.float32),
        "rewards": rng.normal(size=steps).astype(np.float32),
        "terminals": np.zeros(steps, bool),
        "timeouts": (np.arange(steps) % 100 == 99),
    }
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for key in keys:
            f.create_dataset(key, data=arrays[key])
    return buffer.getvalue()


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` with HTTP Range (unless ``server.ranges`` is False); a path in
    ``server.cut`` sends half its body and closes the connection (once); one in ``server.stall``
    sends half and waits for ``server.release``."""

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        requested = self.headers.get("Range")
        if requested and server.ranges:
            start = int(requested.removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        html = body.lstrip().startswith(b"<")
        self.send_header("Content-Type", "text/html" if html else "application/octet-stream")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        if self.path in server.cut or self.path in server.stall:
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            if self.path in server.cut:
                server.cut.discard(self.path)
                self.close_connection = True
                return
            server.release.wait(10)
            payload = payload[len(payload) // 2 :]
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A local HTTP server as D4RL's base URL ($XQL_D4RL_BASE_URL) and a fresh $D4RL_DATASET_DIR."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files, httpd.requests, httpd.cut, httpd.stall = {}, [], set(), set()
    httpd.ranges, httpd.release = True, threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}/datasets"
    monkeypatch.setenv(d4rl.BASE_URL_VARIABLE, httpd.base)
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "d4rl"))
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()


def serve(server, body, path=REMOTE_PATH):
    server.files[f"/datasets{path}"] = body
    return f"{server.base}{path}"


def fetch(**kwargs):
    lines = []
    kwargs = {"progress": False, "timeout": 5.0, "log": lines.append, **kwargs}
    return download.fetch(NAME, **kwargs), lines


def test_the_catalogue_urls_are_d4rls_and_the_base_is_replaced(monkeypatch):
    monkeypatch.delenv(d4rl.BASE_URL_VARIABLE, raising=False)
    # d4rl/infos.py DATASET_URLS (Farama-Foundation/D4RL master).
    assert (
        d4rl.url(NAME)
        == "http://rail.eecs.berkeley.edu/datasets/offline_rl/gym_mujoco_v2/hopper_medium-v2.hdf5"
    )
    assert d4rl.url("pen-human-v0").endswith("/offline_rl/hand_dapg/pen-v0_demos_clipped.hdf5")
    monkeypatch.setenv(d4rl.BASE_URL_VARIABLE, "http://mirror.example/d4rl/")
    assert d4rl.url("kitchen-partial-v0") == (
        "http://mirror.example/d4rl/kitchen/kitchen_microwave_kettle_light_slider-v0.hdf5"
    )


def test_a_whole_file_is_downloaded_with_a_progress_bar_and_loads(server, tmp_path, capsys):
    body = hopper_file_bytes()
    url = serve(server, body)
    with pytest.raises(DatasetError, match=rf"not found: .*fetch {NAME}` \(from {url}\)"):
        sources.resolve(NAME)
    path, lines = fetch(progress=True)
    assert path == str(tmp_path / "d4rl" / "hopper_medium-v2.hdf5") == sources.resolve(NAME).location
    assert lines == [f"downloading D4RL dataset {NAME} from {url} to {path}"]
    bar = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    size_kib = f"{len(body) / 1024:.1f}k"  # tqdm's binary units: the size, done of total, and a rate
    assert (
        bar.startswith("hopper_medium-v2.hdf5: 100%") and f"{size_kib}B/{size_kib}B" in bar and "B/s]" in bar
    )
    assert open(path, "rb").read() == body and os.listdir(tmp_path / "d4rl") == ["hopper_medium-v2.hdf5"]
    assert len(sources.resolve(NAME).load()) == 396  # 400 steps, 3 timeouts and the last row dropped
    assert fetch() == (path, []) and len(server.requests) == 1  # there already: no request
    elsewhere = str(tmp_path / "elsewhere" / "hopper.hdf5")  # --dataset_path with --download
    assert fetch(path=elsewhere)[0] == elsewhere and open(elsewhere, "rb").read() == body


@pytest.mark.parametrize("ranges", [True, False])
def test_a_cut_connection_leaves_nothing_that_loads_and_the_next_call_resumes(server, tmp_path, ranges):
    body = hopper_file_bytes()
    url = serve(server, body)
    server.cut.add(f"/datasets{REMOTE_PATH}")
    server.ranges = ranges
    half = len(body) // 2
    with pytest.raises(DatasetError) as error:
        fetch()
    assert str(error.value) == (
        f"download of {url} stopped after {half / 1024:.1f} KiB of {len(body) / 1024:.1f} KiB (the "
        f"connection closed early); the part received is kept in {tmp_path}/d4rl/hopper_medium-v2.hdf5.part: "
        "run the same command again to resume"
    )
    assert os.listdir(tmp_path / "d4rl") == ["hopper_medium-v2.hdf5.part"]
    with pytest.raises(DatasetError, match="D4RL dataset 'hopper-medium-v2' not found"):
        sources.resolve(NAME)
    path, lines = fetch()
    assert open(path, "rb").read() == body and os.listdir(tmp_path / "d4rl") == ["hopper_medium-v2.hdf5"]
    assert server.requests[1] == (f"/datasets{REMOTE_PATH}", f"bytes={half}-")  # asked for the rest only
    if not ranges:  # a server without Range support sends it all again
        assert (
            lines[-1] == f"{url}: the server does not resume downloads (no HTTP Range); starting again from 0"
        )
    assert len(sources.resolve(NAME).load()) == 396


def test_a_part_that_was_already_whole_is_accepted_after_a_416(server, tmp_path):
    body = hopper_file_bytes()
    serve(server, body)
    os.makedirs(tmp_path / "d4rl")
    (tmp_path / "d4rl" / "hopper_medium-v2.hdf5.part").write_bytes(body)  # killed just before the rename
    path, _ = fetch()
    assert open(path, "rb").read() == body and server.requests == [
        (f"/datasets{REMOTE_PATH}", f"bytes={len(body)}-")
    ]


def test_a_404_or_a_refused_connection_is_one_line_and_leaves_nothing(server, tmp_path, monkeypatch):
    url = f"{server.base}{REMOTE_PATH}"
    with pytest.raises(DatasetError) as error:
        fetch()
    assert (
        str(error.value)
        == f"download of {url} failed: HTTP 404 Not Found; no such file there: check the address"
    )
    assert os.listdir(tmp_path / "d4rl") == []
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv(d4rl.BASE_URL_VARIABLE, closed)
    with pytest.raises(DatasetError) as error:
        fetch()
    assert str(error.value) == (
        f"download of {closed}{REMOTE_PATH} failed: cannot connect ([Errno 111] Connection refused); check "
        "the network and the address"
    )


def test_an_html_page_or_an_hdf5_file_without_d4rls_keys_is_removed_with_one_line(server, tmp_path):
    url = serve(
        server, b"<!DOCTYPE html>\n<html><head><title>Page moved</title></head><body>x</body></html>\n"
    )
    hint = f"Check ${d4rl.BASE_URL_VARIABLE} ({server.base}), which replaces D4RL's address"
    with pytest.raises(DatasetError) as error:
        fetch()
    assert (
        str(error.value) == f"{url} sent an HTML page ('Page moved'), not a D4RL dataset; removed it. {hint}"
    )
    assert os.listdir(tmp_path / "d4rl") == []
    serve(server, hopper_file_bytes(keys=("observations", "actions", "rewards")))
    with pytest.raises(DatasetError) as error:
        fetch()
    assert str(error.value) == (
        f"{url} sent an HDF5 file without the key(s) ['terminals'] (it has ['actions', 'observations', "
        f"'rewards']), not a D4RL dataset; removed it. {hint}"
    )
    assert os.listdir(tmp_path / "d4rl") == []
    serve(server, b"\x00" * 100)
    with pytest.raises(DatasetError, match=r"sent a file that is not HDF5 \(it starts b'\\x00"):
        fetch()


def test_a_stalled_server_times_out_and_a_second_process_waits_for_the_first(server, tmp_path):
    body = hopper_file_bytes()
    url = serve(server, body)
    server.stall.add(f"/datasets{REMOTE_PATH}")
    with pytest.raises(DatasetError, match=rf"download of {url} stopped after .*\(TimeoutError: timed out\)"):
        fetch(timeout=0.3)
    server.release.set()
    server.stall.clear()
    os.remove(tmp_path / "d4rl" / "hopper_medium-v2.hdf5.part")
    # Two callers at once: the second waits on the .part file's lock, then finds the file in place.
    server.release.clear()
    server.stall.add(f"/datasets{REMOTE_PATH}")
    server.requests.clear()
    first = threading.Thread(target=fetch)
    first.start()
    while not server.requests:
        threading.Event().wait(0.01)
    waited = []

    def log(line):
        waited.append(line)
        if "waiting" in line:
            server.release.set()  # the first download finishes once the second is waiting

    path, _ = fetch(log=log)
    first.join(10)
    assert waited[-1] == f"{path}: another process is downloading it; waiting for it to finish"
    assert open(path, "rb").read() == body and len(server.requests) == 1
    assert os.listdir(tmp_path / "d4rl") == ["hopper_medium-v2.hdf5"]


def test_fetch_command_what_does_not_download_and_an_unwritable_folder(server, tmp_path, capsys, monkeypatch):
    serve(server, hopper_file_bytes())
    assert data_main(["fetch", "--no_progress", NAME, "pointmaze-umaze-v0"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == f"{NAME}: {tmp_path}/d4rl/hopper_medium-v2.hdf5"
    assert err.strip() == (
        "error: cannot fetch 'pointmaze-umaze-v0': the embedded dataset is generated on first use; there is "
        "nothing to download. Names that download: D4RL names (e.g. hopper-medium-v2, antmaze-umaze-v0, "
        "pen-human-v1) and minari:<dataset id>"
    )
    assert download.downloadable("minari:D4RL/pen/human-v2")
    assert not download.downloadable("hopper-medium-made")
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "a_file"))  # a folder that cannot be made
    with pytest.raises(DatasetError) as error:
        fetch()
    assert str(error.value) == (
        f"cannot write {tmp_path}/a_file/hopper_medium-v2.hdf5.part: File exists; choose a writable folder"
    )


def test_the_launchers_download_flag_fetches_and_stops_in_one_line(server, tmp_path):
    result = run_script(
        "train_offline.py",
        [f"--env_name={NAME}", "--download", f"--workdir={tmp_path}/run", "--progress=false"],
        env={d4rl.BASE_URL_VARIABLE: server.base, "D4RL_DATASET_DIR": str(tmp_path / "d4rl")},
        timeout=120,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: download of {server.base}{REMOTE_PATH} failed: HTTP 404 Not Found; no such file there: "
        "check the address"
    )
    assert server.requests == [(f"/datasets{REMOTE_PATH}", None)]


def test_minari_datasets_are_fetched_through_minaris_download(tmp_path, monkeypatch):
    import minari

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    asked = []

    def fake_download(dataset_id, force_download=False):
        """What minari.download_dataset leaves behind: the dataset under its id, made here."""
        import gymnasium as gym

        asked.append(dataset_id)
        env = minari.DataCollector(gym.make("Pendulum-v1", max_episode_steps=10))
        env.reset(seed=0)
        for _ in range(10):
            env.step(env.action_space.sample())
        env.create_dataset(dataset_id, algorithm_name="random")

    monkeypatch.setattr(minari, "download_dataset", fake_download)
    lines = []
    assert download.fetch("minari:pendulum/fetched-v0", log=lines.append) == "pendulum/fetched-v0"
    assert asked == ["pendulum/fetched-v0"]
    assert lines == ["downloading Minari dataset pendulum/fetched-v0 with minari.download_dataset"]
    assert len(sources.resolve("minari:pendulum/fetched-v0").load()) == 10
    assert download.fetch("minari:pendulum/fetched-v0") == "pendulum/fetched-v0" and len(asked) == 1  # local

    def failing(error):
        def download_dataset(dataset_id, force_download=False):
            raise error

        return download_dataset

    monkeypatch.setattr(minari, "download_dataset", failing(ImportError("No module named 'huggingface_hub'")))
    with pytest.raises(DatasetError) as error:
        download.fetch("minari:D4RL/pen/human-v2", log=lines.append)
    assert str(error.value) == (
        "Minari's download of 'D4RL/pen/human-v2' needs a package that is not installed (No module named "
        "'huggingface_hub'); install it with pip install -e '.[minari-download]'"
    )
    unknown = ValueError("Couldn't find any version for dataset D4RL/pen/nope in the remote Farama server.")
    monkeypatch.setattr(minari, "download_dataset", failing(unknown))
    with pytest.raises(DatasetError) as error:
        download.fetch("minari:D4RL/pen/nope-v2", log=lines.append)
    assert str(error.value) == (
        "Minari could not download 'D4RL/pen/nope-v2': Couldn't find any version for dataset D4RL/pen/nope "
        "in the remote Farama server."
    )
