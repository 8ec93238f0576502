"""Explanations of model predictions with SHAP (the ``explain`` extra).

:func:`global_importance` computes the mean absolute SHAP value of every input feature
(stored on a model version at registration and shown on its card); :func:`make_explainer`
and :func:`explain_rows` give per-row values (the server's ``POST /v1/explain``). Tree
models use SHAP's exact tree algorithm, linear models the linear one, anything else a
permutation explainer sampled within a time budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.explain._errors import ExplainError

if TYPE_CHECKING:
    from conveyor.explain._shap import (
        Explainer,
        RowExplanations,
        explain_rows,
        global_importance,
        make_explainer,
    )

__all__ = [
    "ExplainError",
    "Explainer",
    "RowExplanations",
    "explain_rows",
    "global_importance",
    "make_explainer",
]

#: Loaded on first use: ``_shap`` imports pandas, and a server that only predicts
#: (``conveyor.serving`` imports :class:`ExplainError`) needs none of it.
_SHAP_NAMES = frozenset(
    {"Explainer", "RowExplanations", "explain_rows", "global_importance", "make_explainer"}
)


def __getattr__(name: str) -> object:
    if name in _SHAP_NAMES:
        from conveyor.explain import _shap

        return getattr(_shap, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SHAP_NAMES)
