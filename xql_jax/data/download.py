"""Datasets fetched by name: D4RL files from D4RL's own URLs, Minari datasets through Minari's download.

``fetch(name)`` brings a dataset that ``sources.resolve`` would otherwise report missing; the
offline launchers call it with ``--download``, and ``python -m xql_jax.data fetch <name>`` calls it
from a shell. Each downloadable family is one entry of ``FAMILIES``: a test of the name and the
function that fetches it. An OGBench entry needs a few lines: ``download_file`` for ``<name>.npz``
and ``<name>-val.npz`` from ``ogbench.utils.DATASET_URL`` into ``~/.ogbench/data`` with a check that
opens the npz (or, without resume and checks, ``ogbench.download_datasets([name], dataset_dir)``).

``download_file`` is the HTTP part, on the standard library: the file is written as ``<file>.part``,
resumed where it stopped when the server honours HTTP Range requests, checked, and renamed into
place only then, so an interrupted or rejected download never leaves a file that looks finished. A
second process asking for the same file (the processes of one multi-process run) waits for the
first through a lock on the ``.part`` file instead of writing into it too.
"""

from __future__ import annotations

import fcntl
import http.client
import os
import re
import urllib.error
import urllib.request
from typing import Callable, Dict, Optional, Tuple

from xql_jax.data import d4rl, made, minari_data, pointmaze
from xql_jax.data.dataset import DatasetError

CHUNK_BYTES = 1 << 20
# Seconds a connection or any single read may wait before the download stops (it can be resumed).
DEFAULT_TIMEOUT = 60.0
# What D4RL's own get_dataset asserts of a file (d4rl/offline_env.py): these keys, one row per step.
D4RL_KEYS = ("observations", "actions", "rewards", "terminals")


def _size(num_bytes: Optional[int]) -> str:
    if num_bytes is None:
        return "an unknown size"
    for unit in ("B", "KiB", "MiB"):
        if num_bytes < 1024:
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.1f} GiB"


def _same_file(path: str, fd: int) -> bool:
    try:
        here, held = os.stat(path), os.fstat(fd)
        return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)
    except FileNotFoundError:
        return False


def _claim(part: str, path: str, log):
    """The ``.part`` file opened and locked for this process (closing it releases the lock), or None
    when another process finished ``path`` while this one waited for the lock."""
    while True:
        handle = open(os.open(part, os.O_RDWR | os.O_CREAT, 0o644), "r+b")
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log(f"{path}: another process is downloading it; waiting for it to finish")
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            if os.path.isfile(path):  # renamed into place by the process this one waited for
                if _same_file(part, handle.fileno()):
                    os.remove(part)  # the empty one this process created after that rename
                handle.close()
                return None
        except BaseException:
            handle.close()
            raise
        if _same_file(part, handle.fileno()):
            return handle
        handle.close()  # the file locked here was removed (a rejected download) while this one waited


def _content_range(header: Optional[str]) -> Tuple[Optional[int], Optional[int]]:
    """(first byte, total size) of a Content-Range header ``bytes a-b/n`` or ``bytes */n``."""
    match = re.fullmatch(r"bytes (?:(\d+)-\d+|\*)/(\d+|\*)", (header or "").strip())
    if not match:
        return None, None
    start, total = match.groups()
    return (int(start) if start else None), (int(total) if total != "*" else None)


def _open(url: str, offset: int, timeout: float):
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:  # nothing after ``offset``: the .part may already be whole
            e.close()
            return e
        advice = "; no such file there: check the address" if e.code == 404 else ""
        raise DatasetError(f"download of {url} failed: HTTP {e.code} {e.reason}{advice}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise DatasetError(
            f"download of {url} failed: cannot connect ({reason}); check the network and the address"
        ) from None


def _transfer(url: str, handle, part: str, progress: bool, timeout: float, log) -> None:
    """Append the rest of ``url`` to ``handle`` (from its current size where the server allows a
    Range request, else from the start), with a progress bar; an error if it stops early."""
    from tqdm import tqdm

    offset = handle.seek(0, os.SEEK_END)
    response = _open(url, offset, timeout)
    if response.status == 416:
        start, total = _content_range(response.headers.get("Content-Range"))
        if total == offset:
            return  # the previous attempt had received everything
        log(f"{url}: the server cannot resume at {_size(offset)}; starting again from 0")
        handle.seek(0)
        handle.truncate()
        offset = 0
        response = _open(url, 0, timeout)
    with response:
        if response.status == 206:
            start, total = _content_range(response.headers.get("Content-Range"))
            if start is None or start > offset:
                raise DatasetError(
                    f"download of {url}: the server resumed at an unexpected place "
                    f"({response.headers.get('Content-Range')!r}); remove {part} and run again"
                )
        else:
            if offset:
                log(f"{url}: the server does not resume downloads (no HTTP Range); starting again from 0")
            start = 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        handle.seek(start)
        handle.truncate()
        received, reason = start, None
        # tqdm leaves the unit off the sizes when the total is known: "1.2GB/3.0GB", not "1.2G/3.0G".
        sizes = "{l_bar}{bar}| {n_fmt}B/{total_fmt}B [{elapsed}<{remaining}, {rate_fmt}]"
        bar = tqdm(
            total=total,
            initial=start,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=os.path.basename(part)[: -len(".part")],
            disable=not progress,
            dynamic_ncols=True,
            bar_format=None if total is None else sizes,
        )
        try:
            while True:
                chunk = response.read1(CHUNK_BYTES)  # what has arrived: a stall loses nothing read
                if not chunk:
                    break
                handle.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as e:  # a timeout, a reset, a short chunk
            reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        except KeyboardInterrupt:
            reason = "interrupted"
        finally:
            bar.close()
            handle.flush()
    if reason or (total is not None and received < total):
        raise DatasetError(
            f"download of {url} stopped after {_size(received)} of {_size(total)} "
            f"({reason or 'the connection closed early'}); the part received is kept in {part}: "
            "run the same command again to resume"
        )


def download_file(
    url: str,
    path: str,
    check: Callable[[str], Optional[str]],
    what: str,
    hint: str = "",
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    log=print,
) -> str:
    """Download ``url`` to ``path`` unless that file exists; returns ``path``.

    ``check(file)`` returns None for a file that has the expected layout, else what the file is
    instead (e.g. "an HTML page"); such a file is removed and the error names it, ``what`` (what
    was expected) and ``hint`` (what to do).
    """
    path = os.path.abspath(os.path.expanduser(path))
    if os.path.isfile(path):
        return path
    part = f"{path}.part"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handle = _claim(part, path, log)
    except OSError as e:
        raise DatasetError(f"cannot write {part}: {e.strerror or e}; choose a writable folder") from None
    if handle is None:
        return path
    with handle:
        try:
            _transfer(url, handle, part, progress, timeout, log)
        except DatasetError:
            if handle.tell() == 0 and os.path.getsize(part) == 0:
                os.remove(part)  # nothing received: leave nothing behind
            raise
        os.fsync(handle.fileno())  # the bytes are on disk before the name says the file is whole
        problem = check(part)
        if problem:
            os.remove(part)
            raise DatasetError(f"{url} sent {problem}, not {what}; removed it. {hint}".rstrip())
        os.replace(part, path)
    return path


def _html_or_bytes(path: str) -> str:
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        return "an empty file"
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text or b"<head" in text:
        title = re.search(rb"<title>(.*?)</title>", head, re.I | re.S)
        return "an HTML page" + (f" ({title.group(1).decode(errors='replace').strip()!r})" if title else "")
    return f"a file that is not HDF5 (it starts {head[:16]!r})"


def check_d4rl_file(path: str) -> Optional[str]:
    """None for an HDF5 file holding D4RL's keys with one row per step, else what it is."""
    import h5py

    if not h5py.is_hdf5(path):
        return _html_or_bytes(path)
    try:
        # Without HDF5's own file lock, which would collide with the download's lock on this file.
        with h5py.File(path, "r", locking=False) as f:
            present = sorted(f.keys())
            missing = [k for k in D4RL_KEYS if not isinstance(f.get(k), h5py.Dataset)]
            if missing:
                return f"an HDF5 file without the key(s) {missing} (it has {present})"
            lengths = {k: (f[k].shape or (0,))[0] for k in D4RL_KEYS}
    except OSError as e:
        return f"an HDF5 file that cannot be read ({e})"
    if len(set(lengths.values())) != 1:
        return f"an HDF5 file whose arrays have different lengths {lengths}"
    return None


def fetch_d4rl(
    name: str, path: Optional[str] = None, progress: bool = True, timeout=DEFAULT_TIMEOUT, log=print
) -> str:
    """D4RL's file of ``name`` into ``path`` (default: where ``d4rl.locate`` looks), unless it is there."""
    path = os.path.abspath(os.path.expanduser(path or d4rl.file_path(name)))
    if os.path.isfile(path):
        return path
    url = d4rl.url(name)
    log(f"downloading D4RL dataset {name} from {url} to {path}")
    override = os.environ.get(d4rl.BASE_URL_VARIABLE)
    hint = (
        f"Check ${d4rl.BASE_URL_VARIABLE} ({override}), which replaces D4RL's address"
        if override
        else f"Check the address, or set ${d4rl.BASE_URL_VARIABLE} to a mirror with D4RL's folders"
    )
    return download_file(url, path, check_d4rl_file, "a D4RL dataset", hint, progress, timeout, log)


def fetch_minari(
    name: str, path: Optional[str] = None, progress: bool = True, timeout=None, log=print
) -> str:
    """A Minari dataset through Minari's own download (its default remote, or $MINARI_REMOTE) into
    $MINARI_DATASETS_PATH, unless it is there; ``path``, ``progress`` and ``timeout`` are Minari's
    own business and unused."""
    import minari

    dataset_id = name[len(minari_data.PREFIX) :]
    try:
        minari.load_dataset(dataset_id)
        return dataset_id
    except (FileNotFoundError, ValueError):
        pass
    log(f"downloading Minari dataset {dataset_id} with minari.download_dataset")
    try:
        minari.download_dataset(dataset_id)
    except ImportError as e:  # the Hugging Face remote needs the [hf] extra of minari
        raise DatasetError(
            f"Minari's download of {dataset_id!r} needs a package that is not installed ({e}); "
            "install it with pip install -e '.[minari-download]'"
        ) from None
    except Exception as e:  # Minari's and its remotes' errors: unknown id, network, version
        detail = " ".join(str(e).split()) or type(e).__name__
        raise DatasetError(f"Minari could not download {dataset_id!r}: {detail}") from None
    minari_data.load_minari(name)  # what the run will do, checked now
    return dataset_id


# family -> (does this name belong to it, fetch(name, path, progress, timeout, log) -> location)
FAMILIES: Dict[str, Tuple[Callable[[str], bool], Callable]] = {
    "d4rl": (lambda name: name in d4rl.D4RL_DATASETS, fetch_d4rl),
    "minari": (minari_data.is_minari, fetch_minari),
}


def downloadable(name: str) -> bool:
    """Whether ``fetch`` can download the dataset ``name``."""
    return any(belongs(name) for belongs, _ in FAMILIES.values())


def fetch(
    name: str,
    path: Optional[str] = None,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    log=print,
) -> str:
    """Download the dataset ``name`` unless it is already there; returns where it is (a file, or a
    Minari id). ``path``: a D4RL dataset's file elsewhere than ``$D4RL_DATASET_DIR``."""
    for belongs, fetch_family in FAMILIES.values():
        if belongs(name):
            return fetch_family(name, path, progress, timeout, log)
    if name in pointmaze.EMBEDDED_MAZES:
        reason = "the embedded dataset is generated on first use; there is nothing to download"
    elif made.parse_name(name):
        reason = "datasets named *-made are made here with experiments/make_dataset.py"
    else:
        reason = "it is not a known dataset name"
    raise DatasetError(
        f"cannot fetch {name!r}: {reason}. Names that download: D4RL names (e.g. hopper-medium-v2, "
        "antmaze-umaze-v0, pen-human-v1) and minari:<dataset id>"
    )
