"""``python -m xql_jax.data fetch NAME [NAME ...]``: download datasets by name (xql_jax.data.download).

python -m xql_jax.data fetch hopper-medium-v2 halfcheetah-medium-expert-v2   # into $D4RL_DATASET_DIR
python -m xql_jax.data fetch minari:D4RL/pen/human-v2                         # Minari's own download
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from xql_jax.data.dataset import DatasetError
from xql_jax.data.download import fetch


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xql_jax.data", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_command = commands.add_parser(
        "fetch",
        help="download datasets that are not there yet",
        description="Download each named dataset unless it is already there: a D4RL name from D4RL's URL "
        "(or $XQL_D4RL_BASE_URL) into $D4RL_DATASET_DIR (default ~/.d4rl/datasets), minari:<id> through "
        "Minari's own download into $MINARI_DATASETS_PATH. An interrupted download resumes when run again.",
    )
    fetch_command.add_argument("names", nargs="+", metavar="NAME")
    fetch_command.add_argument("--no_progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    failed = 0
    for name in args.names:
        try:
            location = fetch(name, progress=not args.no_progress)
        except DatasetError as e:
            print(f"error: {e}", file=sys.stderr)
            failed += 1
            continue
        print(f"{name}: {location}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
