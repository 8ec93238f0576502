"""Test suites shipped with conveyor, for implementations of its extension points.

``conveyor.testing.records`` holds the contract suites of the records interfaces: a backend
other than the SQL one (a REST client of a team server, say) subclasses a suite, provides its
implementation through the ``records`` fixture, and runs every test of the contract. These
modules import pytest; import them from tests only.
"""

__all__: list[str] = []
