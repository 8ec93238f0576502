"""A separate process for crash and concurrency tests (run as ``python data_worker.py``).

``die ROOT URL SOURCE STAGE``: add SOURCE as dataset ``big`` and SIGKILL this process as
soon as progress of STAGE reaches half way.
``add ROOT URL TAG COUNT``: add COUNT distinct tables to dataset ``shared``.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pandas as pd
from data_workspace import open_workspace


def main(argv: list[str]) -> None:
    command, root, url = argv[:3]
    ws = open_workspace(Path(root), url)
    try:
        if command == "die":
            source, stage = argv[3:5]

            def progress(description: str, done: int, total: int) -> None:
                if description.startswith(stage) and done * 2 >= total:
                    os.kill(os.getpid(), signal.SIGKILL)

            ws.registry.add("big", source, progress=progress)
            raise SystemExit(f"stage {stage!r} was never reached")
        tag, count = argv[3], int(argv[4])
        for i in range(count):
            ws.registry.add("shared", pd.DataFrame({"writer": [tag], "i": [i]}))
    finally:
        ws.store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
