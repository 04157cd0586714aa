"""DRF's browsable API, for the views this project has.

Many views parse and validate their input themselves (logs.validation, the
services' checks) and declare no serializer class; DRF's browsable API builds
its forms from one and fails on those views. Their pages are rendered without
the forms (reading, paging and following links work everywhere); views with
a serializer keep DRF's forms.
"""

from __future__ import annotations

from rest_framework import generics, renderers


def declares_serializer(view) -> bool:
    """Whether DRF can build a form for `view`."""
    if getattr(view, "serializer_class", None) is not None:
        return True
    own = getattr(type(view), "get_serializer_class", None)
    return own is not None and own is not generics.GenericAPIView.get_serializer_class


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def get_rendered_html_form(self, data, view, method, request):
        if not declares_serializer(view):
            return None
        return super().get_rendered_html_form(data, view, method, request)

    def get_raw_data_form(self, data, view, method, request):
        if not declares_serializer(view):
            return None
        return super().get_raw_data_form(data, view, method, request)
