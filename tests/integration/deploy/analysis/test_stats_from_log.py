"""Per-variant statistics read back from the prediction log (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from conveyor.deployments import Variant
from conveyor.predictions import PredictionRecord
from conveyor.rollout.analysis import analyse, stats_from_log
from conveyor.workspace import Workspace

CONFIG = "project: {{name: stats-test}}\nstore: {{metadata_url: '{url}'}}\n"


def test_stats_follow_the_rollout_roles_versions_and_labels(
    metadata_url: str, tmp_path: Path
) -> None:
    (tmp_path / "conveyor.yaml").write_text(CONFIG.format(url=metadata_url), encoding="utf-8")
    with Workspace.open(tmp_path, actor="alice", env={}, search_parents=False) as ws:
        start = datetime(2026, 3, 1, tzinfo=UTC)
        variants = (Variant("churn", 1, "champion", 90.0), Variant("churn", 2, "challenger", 10.0))
        first = ws.deployments.transition(
            "production", expected_revision=None, action="deploy", reason="test",
            strategy="canary", state="progressing", variants=variants, steps=(10, 100),
            step_index=0, step_started_at=start, at=start,
        )  # fmt: skip
        records = []
        for i in range(40):
            role, version = ("challenger", 2) if i % 4 == 0 else ("champion", 1)
            records.append(
                PredictionRecord(
                    f"r{i}",
                    start + timedelta(seconds=i),
                    "churn",
                    version,
                    {"x": i},
                    i % 2,
                    5.0 + i,
                    environment="production",
                    variant=role,
                    revision=first.revision,
                )
            )
        # before the rollout, and another version under the same role name: both ignored
        records.append(
            PredictionRecord(
                "old",
                start - timedelta(hours=1),
                "churn",
                2,
                {"x": 0},
                1,
                1.0,
                environment="production",
                variant="challenger",
                revision=0,
            )
        )
        records.append(
            PredictionRecord(
                "v9",
                start,
                "churn",
                9,
                {"x": 0},
                1,
                1.0,
                environment="production",
                variant="challenger",
                revision=first.revision,
            )
        )
        ws.predictions.write(records)
        ws.predictions.feedback({"r0": 0, "r1": 0, "r4": 1})

        stats = stats_from_log(ws, "production", first.revision, since=start)

        assert set(stats) == {"champion", "challenger"}
        assert stats["challenger"].requests == 10
        assert stats["champion"].requests == 30
        assert stats["challenger"].labelled == 2  # r0 and r4
        assert stats["champion"].labelled == 1  # r1
        assert sorted(stats["challenger"].latencies_ms)[:2] == [5.0, 9.0]
        assert analyse(stats["champion"], stats["challenger"]).verdict == "continue"
