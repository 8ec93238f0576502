"""Run every benchmark: ``python -m benchmarks [NAME ...]`` (``make bench``).

Figures are printed as tables; nothing is asserted. ``CONVEYOR_BENCH_SCALE`` (default 1.0)
scales the data sizes, e.g. 0.1 for a quick look.
"""

from __future__ import annotations

import sys

from benchmarks import (
    bench_bodies,
    bench_canary,
    bench_coldstart,
    bench_data,
    bench_data_tables,
    bench_features,
    bench_features_online,
    bench_features_serving,
    bench_logging,
    bench_monitoring,
    bench_monitoring_scale,
    bench_pipelines,
    bench_predict,
    bench_server,
    bench_serving,
    bench_tracking,
    bench_tuning,
    bench_ui,
    bench_volume,
)

BENCHMARKS = {
    "bodies": bench_bodies.main,
    "canary": bench_canary.main,
    "coldstart": bench_coldstart.main,
    "data": bench_data.main,
    "data_tables": bench_data_tables.main,
    "features": bench_features.main,
    "features_online": bench_features_online.main,
    "features_serving": bench_features_serving.main,
    "logging": bench_logging.main,
    "monitoring": bench_monitoring.main,
    "monitoring_scale": bench_monitoring_scale.main,
    "pipelines": bench_pipelines.main,
    "predict": bench_predict.main,
    "server": bench_server.main,
    "serving": bench_serving.main,
    "tracking": bench_tracking.main,
    "tuning": bench_tuning.main,
    "ui": bench_ui.main,
    "volume": bench_volume.main,
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        sys.stderr.write(
            f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}\n"
        )
        return 2
    for name in names:
        BENCHMARKS[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
