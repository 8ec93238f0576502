"""Contract suites of the records interfaces (one module per records package).

Example:
    >>> from conveyor.testing.records import RunRecordsContract  # doctest: +SKIP
    >>> class TestMyRunRecords(RunRecordsContract):  # doctest: +SKIP
    ...     @pytest.fixture
    ...     def records(self, tmp_path):
    ...         return MyRunRecords(...)
"""
