"""``conveyor init --ci github|gitlab`` writes a workflow that runs ``conveyor ci``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conveyor.errors import ConfigError
from conveyor.workspace import init_project


def test_github_workflow_runs_ci_on_pull_requests_and_comments_the_report(
    tmp_path: Path,
) -> None:
    written = init_project(tmp_path, name="p", ci="github")
    workflow = tmp_path / ".github" / "workflows" / "conveyor.yml"
    assert workflow in written
    spec = yaml.safe_load(workflow.read_text())
    assert "pull_request" in spec[True]  # YAML 1.1 reads the key `on` as True
    steps = spec["jobs"]["conveyor-ci"]["steps"]
    runs = " ".join(str(s.get("run", "")) for s in steps)
    assert "conveyor ci --report-dir reports" in runs
    assert "gh pr comment" in runs
    assert "--body-file reports/report.md" in runs
    assert any("upload-artifact" in str(s.get("uses", "")) for s in steps)


def test_gitlab_job_posts_a_merge_request_note_and_junit(tmp_path: Path) -> None:
    init_project(tmp_path, name="p", ci="gitlab")
    spec = yaml.safe_load((tmp_path / ".gitlab-ci.yml").read_text())
    job = spec["conveyor-ci"]
    assert "conveyor ci --report-dir reports" in job["script"]
    assert "merge_requests" in " ".join(job["after_script"])
    assert job["artifacts"]["reports"]["junit"] == "reports/junit.xml"


def test_ci_flag_on_an_existing_project_adds_only_the_workflow(tmp_path: Path) -> None:
    init_project(tmp_path, name="p")
    (tmp_path / "conveyor.yaml").write_text("project: {name: kept}\n")
    written = init_project(tmp_path, ci="github")
    assert written == [tmp_path / ".github" / "workflows" / "conveyor.yml"]
    assert "kept" in (tmp_path / "conveyor.yaml").read_text()
    with pytest.raises(ConfigError, match=r"conveyor\.yml already exists"):
        init_project(tmp_path, ci="github")


def test_unknown_ci_system_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Unknown CI system 'jenkins'") as info:
        init_project(tmp_path, ci="jenkins")
    assert "github, gitlab" in (info.value.hint or "")
    assert not (tmp_path / "conveyor.yaml").exists()


def test_workflows_work_through_the_team_server_with_a_token_from_secrets(
    tmp_path: Path,
) -> None:
    """The job gets the server URL and the token, never database or bucket credentials."""
    init_project(tmp_path / "gh", name="p", ci="github", server_url="https://cvy.example.com/")
    spec = yaml.safe_load((tmp_path / "gh" / ".github" / "workflows" / "conveyor.yml").read_text())
    gates = next(s for s in spec["jobs"]["conveyor-ci"]["steps"] if s.get("id") == "gates")
    assert gates["env"] == {
        "CONVEYOR_SERVER_URL": "https://cvy.example.com",
        "CONVEYOR_TOKEN": "${{ secrets.CONVEYOR_TOKEN }}",
    }
    init_project(tmp_path / "gh2", name="p", ci="github")
    text = (tmp_path / "gh2" / ".github" / "workflows" / "conveyor.yml").read_text()
    assert "CONVEYOR_SERVER_URL: ${{ vars.CONVEYOR_SERVER_URL }}" in text
    init_project(tmp_path / "gl", name="p", ci="gitlab", server_url="https://cvy.example.com")
    job = yaml.safe_load((tmp_path / "gl" / ".gitlab-ci.yml").read_text())["conveyor-ci"]
    assert job["variables"] == {"CONVEYOR_SERVER_URL": "https://cvy.example.com"}
    init_project(tmp_path / "gl2", name="p", ci="gitlab")
    assert (
        "variables"
        not in yaml.safe_load((tmp_path / "gl2" / ".gitlab-ci.yml").read_text())["conveyor-ci"]
    )


@pytest.mark.parametrize(
    "url",
    ["http://cvy.example.com", "ftp://cvy.example.com", "https://user:pw@cvy.example.com", "cvy"],
)
def test_a_server_url_unfit_for_a_token_is_refused(tmp_path: Path, url: str) -> None:
    """Plain http to another host would send the token in the clear; credentials in the
    URL would end up in the workflow file."""
    with pytest.raises(ConfigError, match="server URL"):
        init_project(tmp_path, name="p", ci="github", server_url=url)
    assert not (tmp_path / ".github").exists()
