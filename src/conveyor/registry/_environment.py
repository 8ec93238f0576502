"""The Python environment a version was registered in: the flavor's packages and Python.

At registration the versions of the distributions the flavor needs to load the model
(scikit-learn, numpy, pandas and skops for ``sklearn``...) and the Python version are
recorded in the version's lineage under ``environment``. The lineage is a record field,
not part of the manifest, so recording it never changes a model's content hash. A build
of a serving image pins these versions (see :mod:`conveyor.infra`).
"""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

__all__ = ["ENVIRONMENT_KEY", "FLAVOR_PACKAGES", "flavor_environment"]

#: Where the environment sits inside a version's lineage record.
ENVIRONMENT_KEY = "environment"

#: The distributions each built-in flavor needs to load and run a model. A distribution
#: that is not installed is left out of the record (``xgboost`` or ``xgboost-cpu``).
FLAVOR_PACKAGES: dict[str, tuple[str, ...]] = {
    "lightgbm": ("lightgbm", "numpy", "pandas", "scikit-learn", "scipy"),
    "onnx": ("numpy", "onnx", "onnxruntime", "pandas"),
    "pytorch": ("numpy", "pandas", "torch"),
    "sklearn": ("numpy", "pandas", "scikit-learn", "scipy", "skops"),
    "xgboost": ("numpy", "pandas", "scikit-learn", "scipy", "xgboost", "xgboost-cpu"),
}


def flavor_environment(flavor: str, *, twin: bool = False) -> dict[str, Any]:
    """The environment record of a version saved by ``flavor`` in this interpreter.

    Args:
        flavor: The flavor name (``sklearn``).
        twin: The version has an ONNX twin: the ``onnx`` flavor's packages are added
            (a server prefers the twin when it passed its parity check).

    Returns:
        ``{"python": "3.11.7", "packages": {distribution: version}}``; ``packages`` is empty
        for a flavor whose requirements conveyor does not know (pyfunc, pickle, plug-ins).

    Example:
        >>> sorted(flavor_environment("sklearn")["packages"])  # doctest: +SKIP
        ['numpy', 'pandas', 'scikit-learn', 'scipy', 'skops']
    """
    packages: dict[str, str] = {}
    wanted = list(FLAVOR_PACKAGES.get(flavor, ()))
    if twin:
        wanted += FLAVOR_PACKAGES["onnx"]
    for dist in sorted(set(wanted)):
        try:
            packages[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return {"python": platform.python_version(), "packages": packages}
