"""Model and environment names as Kubernetes resource names and image names.

conveyor names allow upper case, ``_`` and ``.`` and up to 128 characters; a Kubernetes
resource name (an RFC 1035 label) allows lower-case letters, digits and ``-``, starts with
a letter and has at most 63 characters, and an image repository is lower case. The mapping
is deterministic and documented (docs/deploying.md): lower-case, every run of other
characters becomes one ``-``, a leading digit gets an ``m-`` prefix; when anything was
changed or cut, eight hex digits of the BLAKE3 hash of the original name are appended, so
two names that differ only in what the mapping drops (``Churn`` and ``churn``) never
share a resource.
"""

from __future__ import annotations

import re

from conveyor.core import hash_bytes, validate_name

__all__ = ["image_name", "k8s_name"]

_OTHER = re.compile(r"[^a-z0-9]+")
_LABEL_MAX = 63


def k8s_name(name: str, *, suffix: str = "", max_len: int = _LABEL_MAX) -> str:
    """``name`` (plus ``suffix``, e.g. ``"-canary"``) as a valid Kubernetes resource name.

    Args:
        name: A conveyor name (model, environment or project name).
        suffix: Appended after the mapped name; it must already be valid (``-[a-z0-9-]*``).
        max_len: The name's limit (63 for labels, Services and most resources).

    Returns:
        An RFC 1035 label of at most ``max_len`` characters that ends with ``suffix``.

    Example:
        >>> k8s_name("churn")
        'churn'
        >>> k8s_name("Churn_Model.v2")  # doctest: +ELLIPSIS
        'churn-model-v2-...'
    """
    validate_name(name, kind="name")
    mapped = _OTHER.sub("-", name.lower()).strip("-")
    if not mapped or not mapped[0].isalpha():
        mapped = f"m-{mapped}".rstrip("-")
    room = max_len - len(suffix)
    if mapped == name and len(mapped) <= room:
        return mapped + suffix
    tag = "-" + hash_bytes(name.encode())[:8]
    head = mapped[: room - len(tag)].rstrip("-")
    return head + tag + suffix


def image_name(name: str) -> str:
    """``name`` as an image repository component (``conveyor-churn``), mapped as above."""
    return k8s_name(name, max_len=120)
