"""Serving models trained with a feature service, on real gapminder data: a request carries
the entity key (and request-time features), the server looks the rest up in the online
store, predicts what the offline training set predicts, logs the assembled row, refuses
feature columns and hostile keys, follows each service's missing-entity policy, and
answers 503 while Redis is unreachable, then recovers."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serving_support import linear_model, running, wait_ready
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from conveyor.deployments import DeploymentStore, Variant
from conveyor.features import SERVICE_TAG
from conveyor.serving import FeatureAssembler, ModelHost, ServingSettings, create_app
from conveyor.serving._launch import build_app, build_env_app
from conveyor.workspace import Workspace
from features_support import gapminder

FEATURES_PY = """
from conveyor.features import Entity, FeatureService, FeatureView, Field, transformation

country = Entity("country", join_keys=["country"])


@transformation("gapminder@latest")
def facts(frame):
    return frame.assign(
        populous=frame["pop"] > 50_000_000,
        gdp_billions=frame["gdpPercap"] * frame["pop"] / 1e9,
    )


country_stats = FeatureView(
    "country_stats",
    entities=[country],
    source="gapminder@latest",
    schema=[
        Field("lifeExp", "float64", default=60.0),
        Field("pop", "int64", default=1000000),
        Field("continent", "string", default="Unknown"),
    ],
)
country_facts = FeatureView(
    "country_facts",
    entities=[country],
    source=facts,
    schema=[
        Field("populous", "bool", default=False),
        Field("gdp_billions", "float64", default=1.0),
    ],
)
life = FeatureService("life", [country_stats, country_facts])
life_small = FeatureService("life_small", [country_stats])
life_default = FeatureService("life_default", [country_stats, country_facts], on_missing="default")
"""
CONFIG = """\
project: {{name: {name}}}
environments:
  production: {{strategy: canary, sticky_key: x-user-id}}
"""
FULL = ["lifeExp", "pop", "continent", "populous", "gdp_billions", "years_ahead"]
SMALL = ["lifeExp", "pop", "continent", "years_ahead"]
COUNTRIES = ["France", "Japan", "Brazil", "Nigeria", "India", "Cote d'Ivoire"]
SETTINGS = ServingSettings(prepare_explainers=False)


def _pipeline(columns: list[str]) -> Pipeline:
    encode = ColumnTransformer(
        [("continent", OneHotEncoder(handle_unknown="ignore"), ["continent"])],
        remainder="passthrough",
    )
    return Pipeline(
        [("encode", encode), ("tree", DecisionTreeClassifier(max_depth=5, random_state=0))]
    )


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Feature columns as the server's signature check types them."""
    kinds = {"lifeExp": "float64", "pop": "int64", "continent": "str", "populous": "bool"}
    kinds |= {"gdp_billions": "float64", "years_ahead": "float64"}
    return frame.astype({c: kinds[c] for c in frame.columns if c in kinds})


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with gapminder (1972 on), features applied and materialized (SQLite),
    and gdp@1 (service life@1), gdp@2 (life_small@1), gdp@3 (life_default@1), gdp@4
    (a service never applied)."""
    root = tmp_path_factory.mktemp("feature-serving")
    (root / "conveyor.yaml").write_text(CONFIG.format(name=f"fs-{uuid.uuid4().hex[:8]}"))
    (root / "features.py").write_text(FEATURES_PY)
    data = gapminder()
    data = data[data["event_timestamp"].dt.year >= 1972].reset_index(drop=True)
    with Workspace.open(root, env={}, search_parents=False) as ws:
        ws.datasets.add("gapminder", data)
        ws.features.apply()
        ws.features.materialize()
        entities = data[["country", "event_timestamp"]].copy()
        entities["years_ahead"] = (data.index % 5).astype("float64")
        label = (data["gdpPercap"] > 5000).astype(int)
        for service, columns in (("life", FULL), ("life_small", SMALL), ("life_default", FULL)):
            training = _typed(ws.features.historical(entities, service)[columns])
            model = _pipeline(columns).fit(training, label)
            ws.models.register(
                "gdp",
                model,
                input_example=training.head(30),
                tags={SERVICE_TAG: f"{service}@1"},
                onnx=False,
                explain=False,
            )
        ws.models.register(
            "gdp",
            model,
            input_example=training.head(30),
            tags={SERVICE_TAG: "nope@1"},
            onnx=False,
            explain=False,
        )
    return root


@pytest.fixture
def ws(project: Path) -> Iterator[Workspace]:
    with Workspace.open(project, env={}, search_parents=False) as workspace:
        yield workspace


def _offline(ws: Workspace, service: str, countries: list[str], columns: list[str]) -> pd.DataFrame:
    """The rows ``historical`` assembles as of the last materialization (years_ahead 1.0)."""
    at = max(m.end_ts for m in ws.features.records.materializations() if m.end_ts is not None)
    entities = pd.DataFrame({"country": countries, "event_timestamp": [at] * len(countries)})
    entities["years_ahead"] = 1.0
    return _typed(ws.features.historical(entities, service)[columns])


def _metric(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name
    }


def _still_serving(client: httpx.Client) -> None:
    assert client.get("/ping").status_code == 200
    good = client.post("/v1/predict", json={"rows": [{"country": "France", "years_ahead": 1.0}]})
    assert good.status_code == 200, good.text


def test_an_entity_key_gets_the_offline_prediction_everywhere_and_the_assembled_row_is_logged(
    ws: Workspace,
) -> None:
    offline = _offline(ws, "life", COUNTRIES, FULL)
    model = ws.models.load("gdp@1", prefer_onnx=False)
    expected = [int(v) for v in model.predictor.predict(offline)]
    rows = [{"country": c, "years_ahead": 1.0} for c in COUNTRIES]
    app = build_app(ws, "gdp@1", settings=SETTINGS, prefer_onnx=False)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert wait_ready(client).status_code == 200
        v1 = client.post("/v1/predict", json={"rows": rows})
        columns = client.post(
            "/v1/predict",
            json={"columns": {"country": COUNTRIES, "years_ahead": [1.0] * len(COUNTRIES)}},
        )
        records = client.post("/invocations", json={"dataframe_records": rows})
        split = client.post(
            "/invocations",
            json={
                "dataframe_split": {
                    "columns": ["country", "years_ahead"],
                    "data": [[c, 1.0] for c in COUNTRIES],
                }
            },
        )
        v2 = client.post(
            "/v2/models/gdp/infer",
            json={
                "inputs": [
                    {"name": "country", "shape": [6], "datatype": "BYTES", "data": COUNTRIES},
                    {
                        "name": "years_ahead",
                        "shape": [6],
                        "datatype": "FP64",
                        "data": [1.0] * 6,
                    },
                ]
            },
        )
        metadata = client.get("/v2/models/gdp").json()
        metrics = client.get("/metrics").text
    for answer in (v1, columns, records, split, v2):
        assert answer.status_code == 200, answer.text
    assert v1.json()["predictions"] == expected
    assert columns.json()["predictions"] == expected
    assert records.json()["predictions"] == split.json()["predictions"] == expected
    assert v2.json()["outputs"][0]["data"] == expected
    # The OIP metadata lists what a request carries, not what the server looks up.
    assert [i["name"] for i in metadata["inputs"]] == ["country", "years_ahead"]
    lookups = _metric(metrics, "conveyor_feature_lookup_seconds_count")
    assert lookups[(("model", "gdp"), ("version", "1"))] == 5
    # The server flushed its log at shutdown: each record holds the row the model saw.
    rid = v1.json()["request_id"]
    logged = ws.predictions.read(model="gdp")
    logged = logged[logged["request_id"].str.startswith(f"{rid}:")].sort_values("request_id")
    assert len(logged) == len(COUNTRIES)
    inputs = logged[[f"in_{c}" for c in FULL]].rename(columns=lambda c: c[3:])
    assert inputs.reset_index(drop=True).astype(offline.dtypes.to_dict()).equals(offline)
    assert "in_country" not in logged.columns


def test_hostile_requests_are_refused_naming_what_is_wrong_and_the_server_keeps_answering(
    ws: Workspace,
) -> None:
    app = build_app(ws, "gdp@1", settings=SETTINGS, prefer_onnx=False)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert wait_ready(client).status_code == 200
        wrong_type = client.post("/v1/predict", json={"rows": [{"country": 5, "years_ahead": 1.0}]})
        assert wrong_type.status_code == 422
        assert wrong_type.json()["column"] == "country"
        _still_serving(client)
        huge = client.post(
            "/v1/predict",
            content=b'{"rows": [{"country": ' + str(2**80).encode() + b', "years_ahead": 1.0}]}',
            headers={"content-type": "application/json"},
        )
        assert huge.status_code == 422
        assert huge.json()["column"] == "country"
        _still_serving(client)
        not_utf8 = client.post(
            "/v1/predict",
            content=b'{"rows": [{"country": "Fran\xff\xfece", "years_ahead": 1.0}]}',
            headers={"content-type": "application/json"},
        )
        assert not_utf8.status_code == 400
        assert "not UTF-8" in not_utf8.json()["error"]
        _still_serving(client)
        bypass = client.post(
            "/v1/predict",
            json={"rows": [{"country": "France", "years_ahead": 1.0, "lifeExp": 99.0}]},
        )
        assert bypass.status_code == 422
        assert bypass.json()["code"] == "feature_column_sent"
        assert bypass.json()["columns"] == ["lifeExp"]
        assert "'lifeExp'" in bypass.json()["error"]
        assert "entity keys and request-time features" in bypass.json()["hint"]
        _still_serving(client)
        bypass_mlflow = client.post(
            "/invocations",
            json={"dataframe_split": {"columns": ["country", "pop"], "data": [["France", 1]]}},
        )
        assert bypass_mlflow.status_code == 422
        assert bypass_mlflow.json()["columns"] == ["pop"]
        no_key = client.post("/v1/predict", json={"rows": [{"years_ahead": 1.0}]})
        assert no_key.status_code == 400
        assert no_key.json()["missing"] == ["country"]
        unknown = client.post(
            "/v1/predict", json={"rows": [{"country": "Atlantis", "years_ahead": 1.0}]}
        )
        assert unknown.status_code == 422
        assert unknown.json()["code"] == "unknown_entity"
        assert "Atlantis" in unknown.json()["error"]
        _still_serving(client)
        metrics = client.get("/metrics").text
    errors = _metric(metrics, "conveyor_feature_lookup_errors_total")
    assert errors == {(("model", "gdp"), ("reason", "missing_entity"), ("version", "1")): 1.0}


def test_the_default_policy_predicts_an_unknown_entity_with_the_declared_defaults(
    ws: Workspace,
) -> None:
    defaults = {
        "lifeExp": 60.0,
        "pop": 1000000,
        "continent": "Unknown",
        "populous": False,
        "gdp_billions": 1.0,
        "years_ahead": 2.0,
    }
    model = ws.models.load("gdp@3", prefer_onnx=False)
    expected = [int(v) for v in model.predictor.predict(_typed(pd.DataFrame([defaults])))]
    app = build_app(ws, "gdp@3", settings=SETTINGS, prefer_onnx=False)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert wait_ready(client).status_code == 200
        answer = client.post(
            "/v1/predict", json={"rows": [{"country": "Atlantis", "years_ahead": 2.0}]}
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == expected
    logged = ws.predictions.read(model="gdp", version=3)
    row = logged[logged["request_id"] == answer.json()["request_id"]].iloc[0]
    assert {c: row[f"in_{c}"] for c in FULL} == defaults


def test_a_version_whose_service_was_never_applied_fails_to_load_naming_it(
    ws: Workspace,
) -> None:
    app = build_app(ws, "gdp@4", settings=SETTINGS, prefer_onnx=False)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        ready = wait_ready(client, timeout_s=30)
    assert ready.status_code == 503
    assert "gdp@4" in ready.json()["error"]
    assert "'nope@1'" in ready.json()["error"]


def test_each_variant_assembles_its_rows_with_its_own_feature_service(ws: Workspace) -> None:
    store = DeploymentStore(ws.store, actor=ws.actor)
    current = store.current("production")
    store.transition(
        "production",
        expected_revision=None if current is None else current.revision,
        action="deploy",
        reason="test",
        strategy="canary",
        state="progressing",
        variants=(
            Variant("gdp", 1, "champion", 50),
            Variant("gdp", 2, "challenger", 50),
            Variant("gdp", 3, "shadow", 0),
        ),
        params={"shadow_timeout_ms": 10_000},
    )
    app = build_env_app(ws, "production", settings=SETTINGS, prefer_onnx=False, interval_s=0.05)
    versions: set[int] = set()
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert wait_ready(client).status_code == 200
        for i in range(40):
            answer = client.post(
                "/v1/predict",
                json={"rows": [{"country": "Japan", "years_ahead": 1.0}]},
                headers={"x-user-id": f"user-{i}"},
            )
            assert answer.status_code == 200, answer.text
            versions.add(answer.json()["version"])
            if versions == {1, 2} and i >= 10:
                break
        # An unknown entity: the champion's service and the challenger's refuse it.
        unknown = client.post(
            "/v1/predict",
            json={"rows": [{"country": "Atlantis", "years_ahead": 1.0}]},
            headers={"x-user-id": "user-0"},
        )
        assert unknown.status_code == 422
    assert versions == {1, 2}
    logged = ws.predictions.read(model="gdp", environment="production")
    by_variant = dict(tuple(logged.groupby("variant")))
    assert set(by_variant) == {"champion", "challenger", "shadow"}
    for variant, columns in (("champion", FULL), ("challenger", SMALL), ("shadow", FULL)):
        frame = by_variant[variant]
        filled = [c[3:] for c in frame.columns if c.startswith("in_") and frame[c].notna().all()]
        assert sorted(filled) == sorted(columns), variant
        assert (frame["in_continent"] == "Asia").all()


@pytest.mark.slow
def test_explain_explains_the_assembled_row(ws: Workspace) -> None:
    app = build_app(ws, "gdp@1", prefer_onnx=False)
    with running(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        assert wait_ready(client).status_code == 200
        answer = client.post(
            "/v1/explain", json={"rows": [{"country": "France", "years_ahead": 1.0}]}
        )
        bypass = client.post(
            "/v1/explain",
            json={"rows": [{"country": "France", "years_ahead": 1.0, "continent": "Asia"}]},
        )
    assert answer.status_code == 200, answer.text
    explained = answer.json()["explanations"][0]
    assert {"lifeExp", "pop", "populous", "gdp_billions", "years_ahead"} <= {
        str(k) for k in explained
    }
    assert bypass.status_code == 422
    assert bypass.json()["columns"] == ["continent"]


# -- Redis going away and coming back ---------------------------------------------------


class _Proxy:
    """A TCP forwarder from a local port to Redis that can be stopped and started again
    on the same port: Redis becomes unreachable, then reachable, for the server."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        if listener is not None:
            # shutdown wakes the thread blocked in accept(); close alone would not.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target, timeout=5)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1.0):
            return True
    except OSError:
        return False


def test_an_unreachable_online_store_answers_503_is_counted_and_the_server_recovers(
    project: Path,
) -> None:
    import os

    if not _redis_reachable():
        if os.environ.get("CONVEYOR_REQUIRE_SERVICES") == "1":
            pytest.fail("Redis is not reachable on 127.0.0.1:6379", pytrace=False)
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    proxy = _Proxy(("127.0.0.1", 6379))
    proxy.start()
    env = {"CONVEYOR_ONLINE_URL": f"redis://:s3cret@127.0.0.1:{proxy.port}/0"}
    try:
        with Workspace.open(project, env=env, search_parents=False) as ws:
            ws.features.materialize()
            try:
                app = build_app(ws, "gdp@1", settings=SETTINGS, prefer_onnx=False)
                row = {"rows": [{"country": "Brazil", "years_ahead": 1.0}]}
                with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
                    assert wait_ready(client).status_code == 200
                    before = client.post("/v1/predict", json=row)
                    assert before.status_code == 200, before.text
                    proxy.stop()
                    down = client.post("/v1/predict", json=row)
                    ping = client.get("/ping")
                    metrics = client.get("/metrics").text
                    proxy.start()
                    deadline = time.monotonic() + 20
                    back = client.post("/v1/predict", json=row)
                    while back.status_code != 200 and time.monotonic() < deadline:
                        back = client.post("/v1/predict", json=row)
                ws.features.online_store.ping()
            finally:
                for view in ("country_stats", "country_facts"):
                    ws.features.online_store.delete_view(view)
    finally:
        proxy.stop()
    assert down.status_code == 503
    body: dict[str, Any] = down.json()
    assert body["code"] == "feature_store_unavailable"
    assert f"127.0.0.1:{proxy.port}" in body["error"]
    assert "s3cret" not in down.text
    assert ping.status_code == 200
    errors = _metric(metrics, "conveyor_feature_lookup_errors_total")
    assert errors[(("model", "gdp"), ("reason", "unavailable"), ("version", "1"))] == 1.0
    assert back.status_code == 200
    assert back.json()["predictions"] == before.json()["predictions"]


def test_a_lookup_runs_off_the_event_loop_and_a_key_the_store_cannot_hold_is_refused(
    tmp_path: Path,
) -> None:
    """A lookup blocked on the store holds its request only: the server answers others.
    Without a feature store, the assembler reads a real SQLite online store directly."""
    from conveyor.features._online import OnlineRow
    from conveyor.features._online_sqlite import SqliteOnlineStore

    store = SqliteOnlineStore(tmp_path / "online.db")
    store.write_batch("users", [OnlineRow((7,), {"spend": 80.0}, datetime(2024, 1, 1, tzinfo=UTC))])
    entered, release = threading.Event(), threading.Event()

    def lookup(entities: Any) -> list[dict[str, Any]]:
        if entities[0]["user_id"] == 8:
            entered.set()
            release.wait(30)
        found = store.read("users", [(e["user_id"],) for e in entities], ["spend"])
        return [{"spend": None if v is None else v.values["spend"]} for v in found]

    base = linear_model()
    assembler = FeatureAssembler(
        base, "spending@1", lookup, join_keys=["user_id"], provided={"spend"}
    )
    host = ModelHost()
    host.add(dataclasses.replace(base, features=assembler))
    answers: dict[str, httpx.Response] = {}
    with running(create_app(host)) as url, httpx.Client(base_url=url, timeout=30) as client:

        def blocked() -> None:
            row = {"rows": [{"user_id": 8, "age": 41.0}]}
            answers["blocked"] = httpx.post(f"{url}/v1/predict", json=row, timeout=30)

        sender = threading.Thread(target=blocked)
        sender.start()
        try:
            assert entered.wait(30)
            ping = client.get("/ping")
            good = client.post("/v1/predict", json={"rows": [{"user_id": 7, "age": 41.0}]})
            huge = client.post("/v1/predict", json={"rows": [{"user_id": 2**63 + 5, "age": 41.0}]})
        finally:
            release.set()
            sender.join(30)
    assert ping.status_code == 200
    assert good.status_code == 200, good.text
    assert huge.status_code == 422
    assert huge.json()["code"] == "invalid_entity_key"
    assert str(2**63 + 5) in huge.json()["error"]
    # User 8 has no features: its non-nullable column is refused, naming the feature.
    assert answers["blocked"].status_code == 422
    assert answers["blocked"].json()["column"] == "spend"
    assert "from the online store" in answers["blocked"].json()["error"]
