"""The whole loop on penguins again, with the project's records on a team server.

The same behaviour suite as ``test_penguins.py`` (loop.py), every command run in a
checkout that has only ``CONVEYOR_SERVER_URL`` and a token: data, training, gates,
registry, deployments, the prediction server (which follows its environment and logs
traffic through the server), monitoring and the agent all work through ``conveyor
server``'s API. The server's own project has the same ``conveyor.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.workspace import Workspace
from realdata import projects
from realdata.loop import LoopTests, build, built
from realdata.projects import RealProject, penguins, write_project
from server_support import Server, control_plane

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("realdata_penguins_remote"),
    pytest.mark.timeout(1200),  # building the project through HTTP takes a few minutes
]


_SECRETS: dict[str, str] = {}


class TestPenguinsRemote(LoopTests):
    make_project = staticmethod(penguins)

    @pytest.fixture(scope="class")
    @classmethod
    def server(
        cls, tmp_path_factory: pytest.TempPathFactory, project: RealProject
    ) -> Iterator[Server]:
        root = built(
            "penguins-server", lambda: write_project(tmp_path_factory.mktemp("server"), project)
        )
        with Workspace.open(root, env={}) as ws, control_plane(ws) as running:
            yield running

    @pytest.fixture(scope="class")
    @classmethod
    def root(
        cls, tmp_path_factory: pytest.TempPathFactory, project: RealProject, server: Server
    ) -> Iterator[Path]:
        if "team" not in _SECRETS:  # the server's store outlives a restarted fixture
            _SECRETS["team"] = server.token("team", "admin")
        projects.BACKEND_ENV.update(CONVEYOR_SERVER_URL=server.url, CONVEYOR_TOKEN=_SECRETS["team"])
        try:
            root = built(
                "penguins-remote", lambda: build(tmp_path_factory.mktemp(project.name), project)
            )
            assert not (root / ".conveyor" / "conveyor.db").exists()
            yield root
        finally:
            projects.BACKEND_ENV.clear()
