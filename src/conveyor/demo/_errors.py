"""The demo's one error: a stage that did not do what the story says."""

from __future__ import annotations

from conveyor.errors import ConveyorError


class DemoFailed(ConveyorError):
    """A demo stage did not do what the story says."""

    code = "demo_failed"


def expect(condition: bool, message: str, **fields: object) -> None:
    """Raise :class:`DemoFailed` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise DemoFailed(
            f"Demo stage failed: {message}",
            hint="Run `conveyor demo --verbose` and report the output; the demo folder keeps "
            "every record and the server log.",
            **fields,
        )
