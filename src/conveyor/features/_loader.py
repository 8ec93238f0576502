"""Load a project's feature definitions from its ``features.py``.

The file is project code, trusted as a pipeline's module is: it is imported (its top level
runs) only when a command needs the definitions. Its path comes from ``conveyor.yaml`` and
must stay inside the project folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

from conveyor.features._definitions import Definitions
from conveyor.features._errors import FeatureDefinitionError

__all__ = ["load_definitions"]


def load_definitions(root: Path, relative: str) -> Definitions:
    """The definitions in ``root / relative``, imported as a fresh module.

    Raises:
        FeatureDefinitionError: The path leaves the project folder, the file does not
            exist, or importing it fails.
    """
    base = root.resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise FeatureDefinitionError(
            f"features.definitions {relative!r} points outside the project folder {base}.",
            hint="Name a file inside the project, e.g. features.py.",
            path=relative,
        )
    if not path.is_file():
        raise FeatureDefinitionError(
            f"No feature definitions file {relative!r} in {base}.",
            hint="Create features.py with Entity, FeatureView and FeatureService objects, or "
            "set features.definitions in conveyor.yaml.",
            path=str(path),
        )
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    module_name = f"conveyor_features_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise FeatureDefinitionError(f"Cannot import {path}.", path=str(path))
    module = importlib.util.module_from_spec(spec)
    added = str(base) not in sys.path
    if added:
        sys.path.insert(0, str(base))
    try:
        spec.loader.exec_module(module)
    except FeatureDefinitionError:
        raise
    except Exception as exc:
        raise FeatureDefinitionError(
            f"Importing the feature definitions {relative!r} failed: {type(exc).__name__}: {exc}",
            hint="Fix the file; `python " + relative + "` shows the full traceback.",
            path=str(path),
        ) from exc
    finally:
        if added:
            sys.path.remove(str(base))
    return Definitions.collect(vars(module).values())
