"""DRF cursor pagination as the API answers it: a bad cursor is bad input.

DRF answers an undecodable `cursor` with 404 (as if a page were missing);
here it is a 400 naming `cursor`, like every other bad parameter. List
endpoints over ordinary tables subclass this and set `ordering` and sizes.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class StrictCursorPagination(CursorPagination):
    page_size_query_param = "page_size"

    def decode_cursor(self, request: Request):
        """A bad cursor is bad input (400 naming it), not a missing page (DRF's 404)."""
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError({"cursor": ["Invalid cursor."]}) from None
