"""``conveyor build``: a container build context (and, with ``--image``, the image) for a
model version's prediction server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from conveyor.cli._output import console, open_workspace, print_json


def register(app: typer.Typer) -> None:
    """Attach ``build`` to the root app."""
    app.command("build")(build)


def build(  # noqa: PLR0917 - Typer options are parameters
    ref: Annotated[
        str,
        typer.Argument(
            help="NAME@VERSION or NAME@ALIAS (churn@champion); with --env, the model NAME."
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The context folder (new or empty).")
    ],
    env: Annotated[
        str | None,
        typer.Option("--env", "-e", help="Build the version this environment serves now."),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option("--image", help="Also build the image with this tag (docker or buildah)."),
    ] = None,
    build_arg: Annotated[
        list[str] | None,
        typer.Option("--build-arg", help="KEY=VALUE passed to the image build (BASE_IMAGE=...)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Write a Dockerfile context serving one model version (with --image, build it too).

    The context holds a minimal project with just that version (its files checked against
    their hashes when the server starts), a wheel of this conveyor, requirements pinned at
    the versions recorded when the model was registered, a non-root user, a HEALTHCHECK on
    readiness and OCI labels (model name, version, content hash, gate decision). The base
    image is the build argument BASE_IMAGE (default python:3.11-slim).

    Exit codes: 0 written (and built); 1 error (unknown version, unsupported flavor, a
    non-empty output folder, no deployment in --env, the image build failed).
    """
    from conveyor.infra._build import BuildError, build_context, build_image, check_tag

    if image is not None:
        check_tag(image)  # before writing anything
    args: dict[str, str] = {}
    for item in build_arg or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BuildError(
                f"Invalid --build-arg {item!r}: expected KEY=VALUE.",
                hint="For example --build-arg BASE_IMAGE=python:3.11-slim.",
                build_arg=item,
            )
        args[key] = value
    with open_workspace() as ws:
        context = build_context(ws, ref, output, env=env)
    err = Console(stderr=True, highlight=False)
    for warning in context.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    out = console()
    image_id = None
    if image is not None:
        show = err.print if json_out else out.print
        show(f"Building [bold]{escape(image)}[/] from {escape(str(context.path))} ...")
        image_id = build_image(
            context, image, build_args=args, output=lambda line: show(escape(line), markup=True)
        )
    if json_out:
        print_json({**context.to_dict(), "tag": image, "image_id": image_id})
        return
    out.print(
        f"Wrote the build context of [bold]{escape(context.ref)}[/] to {escape(str(context.path))}"
    )
    out.print(f"  labels: {len(context.labels)}, requirements: {', '.join(context.requirements)}")
    if image_id is not None:
        out.print(f"Built [bold]{escape(str(image))}[/] ({escape(image_id)}).")
    else:
        out.print(
            f"Build it with: docker build -t {escape(context.image)} {escape(str(context.path))}"
        )
