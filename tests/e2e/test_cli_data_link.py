"""End to end: ``data.link`` in ``conveyor.yaml`` chooses how ``conveyor data add`` stores
files, and the command (text and ``--json``) says how each new object was stored."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import sklearn.datasets
from cli_in_process import CliInProcess

IMAGES = Path(sklearn.datasets.__file__).parent / "images"


def _project(tmp_path: Path, run: CliInProcess, link: str | None) -> Path:
    assert run(tmp_path, "init", "shop").returncode == 0
    project = tmp_path / "shop"
    if link is not None:
        with (project / "conveyor.yaml").open("a", encoding="utf-8") as handle:
            handle.write(f"\ndata:\n  link: {link}\n")
    for name in ("china.jpg", "flower.jpg"):
        folder = project / name.removesuffix(".jpg")
        folder.mkdir()
        shutil.copyfile(IMAGES / name, folder / name)
    return project


def test_hardlink_is_reported_in_json_and_text(
    tmp_path: Path, conveyor_in_process: CliInProcess
) -> None:
    project = _project(tmp_path, conveyor_in_process, "hardlink")
    ran = conveyor_in_process(project, "data", "add", "china", "china", "--json")
    assert ran.returncode == 0, ran.stderr
    stats = json.loads(ran.stdout)["stats"]
    assert stats["link"] == "hardlink"
    assert (stats["hardlinked_objects"], stats["copied_objects"]) == (1, 0)
    assert not os.stat(project / "china" / "china.jpg").st_mode & 0o222

    text = conveyor_in_process(project, "data", "add", "flower", "flower")
    assert text.returncode == 0, text.stderr
    assert "Stored 1 new object(s): 1 hardlinked (read-only now)." in text.stdout


def test_the_environment_overrides_the_file_and_copy_says_copied(
    tmp_path: Path, conveyor_in_process: CliInProcess
) -> None:
    project = _project(tmp_path, conveyor_in_process, "hardlink")
    ran = conveyor_in_process(
        project, "data", "add", "china", "china", "--json", CONVEYOR_DATA__LINK="copy"
    )
    assert ran.returncode == 0, ran.stderr
    stats = json.loads(ran.stdout)["stats"]
    assert (stats["link"], stats["copied_objects"], stats["hardlinked_objects"]) == ("copy", 1, 0)
    assert os.stat(project / "china" / "china.jpg").st_mode & 0o200


def test_an_unknown_link_mode_is_refused_naming_it(
    tmp_path: Path, conveyor_in_process: CliInProcess
) -> None:
    project = _project(tmp_path, conveyor_in_process, "symlink")
    ran = conveyor_in_process(project, "data", "add", "china", "china")
    assert ran.returncode == 1
    assert "data.link" in ran.stderr
    assert "symlink" in ran.stderr
