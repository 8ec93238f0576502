"""`export_airflow`: the DAG file's structure (read with `ast`), its safety and its errors.

The file is never imported here (Airflow is not in this environment): it is compiled,
its settings are read as literals, and its shell quoting runs in a real bash.
tests/integration/infra/test_airflow_dag.py loads and runs it in a real Airflow.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from conveyor.cli import main
from conveyor.cli._app import app as cli_app
from conveyor.cli._export_airflow import export_airflow as export_airflow_command
from conveyor.errors import ConveyorError
from conveyor.infra._airflow import AirflowExportError, airflow_dag, airflow_id, export_airflow
from conveyor.pipelines import ParameterError, load_pipeline
from conveyor.workspace import init_project

FLOW = """
from __future__ import annotations

from typing import Literal

from conveyor.pipelines import pipeline, step


@step
def source(n: int) -> list[int]:
    return list(range(n))


@step(retries=2)
def left(xs: list[int]) -> int:
    return sum(xs)


@step(name="right side {{ 7*7 }}\\n'; rm -rf / #")
def right(xs: list[int]) -> int:
    return len(xs)


double = step(lambda x: 2 * x)


@step
def join(a: int, b: int, label: str) -> str:
    return f"{label}: {a + b}"


@pipeline(name="flow: the 'pipeline'")
def flow(
    n: int = 4,
    rate: float = 0.5,
    label: str = "total",
    fast: bool = False,
    limit: int | None = None,
    mode: Literal["a", "b"] = "a",
) -> None:
    xs = source(n)
    join(double(left(xs)), right(xs), label)
"""

BROKEN = """
import uuid

from conveyor.pipelines import pipeline, step


def make():
    @pipeline
    def hidden(n: int = 1) -> None:
        one(n)

    return hidden


@step
def one(n: int) -> int:
    return n


inner = make()


@pipeline
def shifting(n: int = 1) -> None:
    renamed = step(name=f"part_{uuid.uuid4().hex[:6]}")(lambda x: x)
    renamed(one(n))


@pipeline
def odd_default(n: float = float("nan")) -> None:
    one(n)
"""

#: A value that breaks naive code generation: quotes of every kind, a newline, a
#: backslash, Jinja and shell syntax, and non-ASCII text.
HOSTILE = 'it\'s "quoted" \'\'\'x\'\'\' """y"""\nline 2 \\ {{ run_id }} $(id) `id` é 漢 🚀'

_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    init_project(root, name="proj")
    (root / "af_flow.py").write_text(textwrap.dedent(FLOW).lstrip(), encoding="utf-8")
    (root / "af_broken.py").write_text(textwrap.dedent(BROKEN).lstrip(), encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def _assignments(source: str) -> dict[str, ast.expr]:
    tree = ast.parse(source)
    return {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _params(source: str) -> dict[str, tuple[Any, dict[str, Any]]]:
    """``PARAMS`` as ``{name: (default, keywords)}`` from the ``Param(...)`` calls."""
    node = _assignments(source)["PARAMS"]
    assert isinstance(node, ast.Dict)
    found: dict[str, tuple[Any, dict[str, Any]]] = {}
    for key, value in zip(node.keys, node.values, strict=True):
        assert isinstance(key, ast.Constant)
        assert isinstance(value, ast.Call)
        assert isinstance(value.func, ast.Name)
        assert value.func.id == "Param"
        keywords = {k.arg: ast.literal_eval(k.value) for k in value.keywords if k.arg}
        found[key.value] = (ast.literal_eval(value.args[0]), keywords)
    return found


def _literal(source: str, name: str) -> Any:
    return ast.literal_eval(_assignments(source)[name])


def _bash_word_function(source: str) -> Any:
    """The file's own ``_bash_word``, compiled alone (the rest needs Airflow)."""
    tree = ast.parse(source)
    keep = [
        node
        for node in tree.body
        if (isinstance(node, ast.FunctionDef) and node.name == "_bash_word")
        or (isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "_PLAIN")
    ]
    namespace: dict[str, Any] = {}
    exec(compile(ast.Module(body=keep, type_ignores=[]), "<dag>", "exec"), namespace)
    return namespace["_bash_word"]


def test_one_task_per_step_with_dependencies_retries_and_typed_params(project: Path) -> None:
    path = export_airflow(load_pipeline("af_flow:flow", project), project / "dags" / "flow.py")
    source = path.read_text(encoding="utf-8")
    compile(source, str(path), "exec")
    steps = _literal(source, "STEPS")
    right = "right side {{ 7*7 }}\n'; rm -rf / #"
    ids = {node: task for task, (node, _, _) in steps.items()}
    assert list(ids) == ["source", "left", right, "<lambda>", "join"]
    assert steps[ids["left"]] == ("left", 2, ["source"])
    assert steps[ids["join"]] == ("join", 0, [ids["<lambda>"], ids[right]])
    assert steps[ids["<lambda>"]][2] == ["left"]
    assert all(_SAFE_ID.match(task) for task in steps)
    assert _params(source) == {
        "n": (4, {"type": "integer"}),
        "rate": (0.5, {"type": "number"}),
        "label": ("total", {"type": "string"}),
        "fast": (False, {"type": "boolean"}),
        "limit": (None, {"type": ["integer", "null"]}),
        "mode": ("a", {"enum": ["a", "b"]}),
    }
    assert _literal(source, "PIPELINE_REF") == "af_flow:flow"
    assert _literal(source, "DAG_ID") == airflow_id("flow: the 'pipeline'")
    assert _literal(source, "SCHEDULE") is None
    assert _literal(source, "RUN_ID") == f"airflow:{_literal(source, 'DAG_ID')}:{{{{ run_id }}}}"


def test_the_file_imports_airflow_and_the_standard_library_only(project: Path) -> None:
    source = airflow_dag(load_pipeline("af_flow:flow", project)).source
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    assert modules == {
        "__future__",
        "airflow",
        "airflow.models.param",
        "airflow.operators.bash",
        "airflow.providers.standard.operators.bash",
        "airflow.sdk",
        "datetime",
        "os",
    }


def test_the_same_pipeline_and_options_give_the_same_bytes(project: Path) -> None:
    first = export_airflow(load_pipeline("af_flow:flow", project), project / "a.py")
    second = export_airflow(load_pipeline("af_flow:flow", project), project / "b.py")
    assert first.read_bytes() == second.read_bytes()
    other = export_airflow(
        load_pipeline("af_flow:flow", project), project / "c.py", params={"n": "5"}
    )
    assert other.read_bytes() != first.read_bytes()


def test_options_reach_the_file(project: Path) -> None:
    dag = airflow_dag(
        load_pipeline("af_flow:flow", project),
        params={"n": "7", "limit": "3"},
        dag_id="nightly.flow-v2",
        schedule="@daily",
        project_dir="/srv/proj",
        conveyor_bin="/opt/venv/bin/conveyor",
    )
    assert dag.dag_id == "nightly.flow-v2"
    assert _literal(dag.source, "SCHEDULE") == "@daily"
    assert _params(dag.source)["n"] == (7, {"type": "integer"})
    assert _params(dag.source)["limit"] == (3, {"type": ["integer", "null"]})
    assert dag.params["n"] == 7
    assert "or '/srv/proj'" in dag.source
    assert "or '/opt/venv/bin/conveyor'" in dag.source
    assert "airflow:nightly.flow-v2:{{ run_id }}" in dag.source


def test_by_default_the_workers_use_this_project_folder(project: Path) -> None:
    source = airflow_dag(load_pipeline("af_flow:flow", project)).source
    assert f"or {str(project)!r}" in source


def test_a_hostile_parameter_value_is_embedded_as_a_literal(project: Path) -> None:
    path = export_airflow(
        load_pipeline("af_flow:flow", project), project / "h.py", params={"label": HOSTILE}
    )
    source = path.read_text(encoding="utf-8")
    compile(source, str(path), "exec")
    assert _params(source)["label"] == (HOSTILE, {"type": "string"})


def test_names_reach_bash_unchanged_and_carry_no_jinja(project: Path) -> None:
    source = airflow_dag(load_pipeline("af_flow:flow", project)).source
    bash_word = _bash_word_function(source)
    for text in ["right side {{ 7*7 }}\n'; rm -rf / #", "<lambda>", HOSTILE, "/srv/my proj"]:
        word = bash_word(text)
        assert not {"{", "}", "%", "#", "\n"} & set(word)
        echoed = subprocess.run(
            ["bash", "-c", f"printf %s {word}"], capture_output=True, check=True
        ).stdout
        assert echoed.decode("utf-8") == text


def test_the_params_template_sends_the_pipeline_parameters_only(project: Path) -> None:
    source = airflow_dag(load_pipeline("af_flow:flow", project)).source
    assert _literal(source, "PARAMS_JSON") == (
        "{{ {'n': params['n'], 'rate': params['rate'], 'label': params['label'], "
        "'fast': params['fast'], 'limit': params['limit'], 'mode': params['mode']} | tojson }}"
    )


def test_airflow_ids_keep_valid_names_and_map_others_deterministically() -> None:
    assert airflow_id("train_model.v2-final") == "train_model.v2-final"
    mapped = airflow_id("<lambda>")
    assert _SAFE_ID.match(mapped)
    assert mapped.startswith("_lambda__")
    assert mapped == airflow_id("<lambda>")
    assert airflow_id("a b") != airflow_id("a_b") == "a_b"
    assert airflow_id("a b") != airflow_id("a/b")
    long = airflow_id("x" * 300)
    assert len(long) == 250
    assert _SAFE_ID.match(long)
    assert airflow_id("é" * 10) != airflow_id("ü" * 10)


def test_a_pipeline_defined_inside_a_function_is_refused_by_name(project: Path) -> None:
    load_pipeline("af_broken:shifting", project)  # imports the module with the project root
    inner = sys.modules["af_broken"].inner
    assert inner.name == "hidden"
    with pytest.raises(AirflowExportError, match=r"'hidden'.*reference 'af_broken:hidden'"):
        airflow_dag(inner)


def test_a_step_named_differently_on_each_build_is_refused_by_name(project: Path) -> None:
    pipeline = load_pipeline("af_broken:shifting", project)
    with pytest.raises(AirflowExportError, match=r"Step 'part_[0-9a-f]{6}' of pipeline") as info:
        airflow_dag(pipeline)
    assert info.value.fields["step"].startswith("part_")
    assert info.value.hint is not None


def test_a_parameter_value_that_is_not_json_is_refused_by_name(project: Path) -> None:
    with pytest.raises(AirflowExportError, match=r"Parameter 'n'.*non-finite float"):
        airflow_dag(load_pipeline("af_broken:odd_default", project))


def test_bad_parameters_and_dag_ids_are_refused(project: Path) -> None:
    pipeline = load_pipeline("af_flow:flow", project)
    with pytest.raises(ParameterError, match="'nope'"):
        airflow_dag(pipeline, params={"nope": "1"})
    with pytest.raises(ParameterError, match="expects int"):
        airflow_dag(pipeline, params={"n": "many"})
    with pytest.raises(AirflowExportError, match="Invalid Airflow DAG id 'my dag'") as info:
        airflow_dag(pipeline, dag_id="my dag")
    assert info.value.hint == f"For example --dag-id {airflow_id('my dag')}."


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``conveyor export airflow ARGS`` through the real CLI once the command is mounted,
    else through a Typer app holding the command alone (errors rendered alike)."""
    group = typer.main.get_command(cli_app)
    export = getattr(group, "commands", {}).get("export")
    if export is not None and "airflow" in getattr(export, "commands", {}):
        code = main(["export", "airflow", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    app = typer.Typer()
    app.command()(export_airflow_command)
    result = CliRunner().invoke(app, args)
    error = result.exception
    if isinstance(error, ConveyorError):
        return error.exit_code, result.stdout, f"error: {error}\nhint: {error.hint}"
    return result.exit_code, result.stdout, ""


def test_cli_writes_the_dag_and_prints_json(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = project / "dags" / "flow.py"
    args = ["af_flow:flow", "-o", str(target), "-p", "n=6", "--dag-id", "flow", "--json"]
    code, out, _ = _cli([*args, "--schedule", "0 3 * * *"], capsys)
    assert code == 0
    payload = json.loads(out)
    assert payload["dag_id"] == "flow"
    assert payload["pipeline"] == "af_flow:flow"
    assert payload["params"]["n"] == 6
    assert list(payload["tasks"].values()) == [
        "source",
        "left",
        "right side {{ 7*7 }}\n'; rm -rf / #",
        "<lambda>",
        "join",
    ]
    assert payload["upstream"]["left"] == ["source"]
    source = target.read_text(encoding="utf-8")
    assert _literal(source, "SCHEDULE") == "0 3 * * *"
    assert f"or {str(project)!r}" in source  # the project folder on the workers by default


def test_cli_refuses_an_invalid_pipeline_reference(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(["af_missing:flow", "-o", str(project / "x.py")], capsys)
    assert code == 1
    assert "No module named 'af_missing'" in err
    assert not (project / "x.py").exists()
    code, _, err = _cli(["af_flow:nothing", "-o", str(project / "x.py")], capsys)
    assert code == 1
    assert "'nothing' in 'af_flow' does not exist" in err
