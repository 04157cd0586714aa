"""A JSON parser that bounds the body size and refuses malformed or hostile JSON."""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .problems import ContentTooLarge


class BoundedJSONParser(JSONParser):
    """Read at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes; 413 beyond, 400 for bad JSON.

    DRF reads the raw stream, which Django does not bound, so the limit lives here.
    Deeply nested documents end in RecursionError inside `json`, answered as 400.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise ContentTooLarge(f"The request body exceeds {limit} bytes.")
        if not raw:
            raise ParseError("The request body is empty; a JSON document is required.")
        try:
            return json.loads(raw, parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError("JSON is nested too deeply.") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error: {exc}") from None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")
