"""Fixtures shared with other apps' tests."""

from tests.archival.conftest import archive_bucket  # noqa: F401 - the archive test's bucket
