"""The event filters of the contract, shared by list, export, stats (and stream).

A django-filter FilterSet: it validates every parameter (errors name it) and
builds the ORM filter; drf-spectacular documents it from the same declaration.
`tenant_id` is not here: the tenant-scoping mechanism consumes it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from .choices import ACTION_RE, CONTROL_RE, Category, Severity
from .models import Event

# A '+' in an unencoded query string arrives as a space: "...T10:00:00 02:00".
_SPACE_OFFSET_RE = re.compile(r"^(.*T[\d:.]+) (\d{2}:?\d{2})$")


def no_control_characters(value: str) -> None:
    if CONTROL_RE.search(value):
        raise ValidationError("Must not contain control characters.", code="control_character")


class OffsetDateTimeField(forms.Field):
    """An ISO 8601 date-time that must carry an offset; returned in UTC."""

    default_error_messages = {"invalid": "Enter an ISO 8601 date-time with an offset."}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip()
        match = _SPACE_OFFSET_RE.match(text)
        if match:
            text = f"{match.group(1)}+{match.group(2)}"
        try:
            parsed = datetime.fromisoformat(text)
            if parsed.tzinfo is None or parsed.utcoffset() is None:
                raise ValidationError("Include a UTC offset (e.g. Z).", code="naive_datetime")
            return parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class OffsetDateTimeFilter(django_filters.Filter):
    field_class = OffsetDateTimeField


class UpperCaseCSVField(forms.Field):
    """A comma-separated list, upper-cased, each item checked by `item_check`."""

    def __init__(self, *args, item_check=None, max_items: int = 50, **kwargs):
        self.item_check = item_check
        self.max_items = max_items
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        items = [item.strip().upper() for item in str(value).split(",")]
        if len(items) > self.max_items:
            raise ValidationError(f"At most {self.max_items} values.", code="max_items")
        for item in items:
            self.item_check(item)
        return items


class LowerCaseCSVField(UpperCaseCSVField):
    """A comma-separated list, lower-cased (the category vocabulary is lower case)."""

    def to_python(self, value):
        items = super().to_python(value)
        return None if items is None else [item.lower() for item in items]


class CategoryInFilter(django_filters.Filter):
    field_class = LowerCaseCSVField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("lookup_expr", "in")
        super().__init__(*args, item_check=_category, max_items=3, **kwargs)


class UpperCaseInFilter(django_filters.Filter):
    field_class = UpperCaseCSVField

    def __init__(self, *args, item_check, **kwargs):
        kwargs.setdefault("lookup_expr", "in")
        super().__init__(*args, item_check=item_check, **kwargs)


class IPAddressField(forms.GenericIPAddressField):
    default_error_messages = {"invalid": "Enter a valid IPv4 or IPv6 address."}

    def to_python(self, value):
        if value and "%" in str(value):  # scoped IPv6 (fe80::1%eth0) is not an inet
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class IPAddressFilter(django_filters.Filter):
    field_class = IPAddressField


def _action(item: str) -> None:
    if not item.isascii() or ACTION_RE.fullmatch(item) is None:
        raise ValidationError(f"{item!r} is not an action (^[A-Z][A-Z0-9_]{{0,63}}$).")


def _severity(item: str) -> None:
    if item not in Severity.values:
        raise ValidationError(f"{item!r} is not one of {', '.join(Severity.values)}.")


def _category(item: str) -> None:
    if item.lower() not in Category.values:
        raise ValidationError(f"{item.lower()!r} is not one of {', '.join(Category.values)}.")


def _text(max_length: int, **kwargs) -> django_filters.CharFilter:
    return django_filters.CharFilter(
        max_length=max_length, validators=[no_control_characters], **kwargs
    )


class EventFilterSet(django_filters.FilterSet):
    user_id = _text(255, help_text="Exact actor.")
    session_id = _text(255)
    action = UpperCaseInFilter(
        item_check=_action, help_text="Comma-separated actions (case-insensitive)."
    )
    resource_type = _text(128)
    resource_id = _text(255)
    severity = UpperCaseInFilter(
        item_check=_severity, help_text="Comma-separated: INFO, WARNING, ERROR, CRITICAL."
    )
    start_time = OffsetDateTimeFilter(
        field_name="timestamp", lookup_expr="gte", help_text="Inclusive, with an offset."
    )
    end_time = OffsetDateTimeFilter(
        field_name="timestamp", lookup_expr="lt", help_text="Exclusive, with an offset."
    )
    request_id = _text(128)
    ip_address = IPAddressFilter(help_text="IPv4 or IPv6 address.")
    category = CategoryInFilter(
        help_text="Comma-separated: application (sent by clients), access (reads of the "
        "logs), admin (changes to the tenant). Default: all."
    )
    q = _text(
        256,
        method="filter_full_text",
        help_text="Full-text search over message, resource and metadata values "
        '(web-search syntax: words, "phrases", -exclusions, OR).',
    )

    class Meta:
        model = Event
        fields: list[str] = []

    def filter_full_text(self, queryset, name, value):
        # The generated column is not mapped on the model (never selected by
        # accident); this is the one place that reads it. Uses the GIN index.
        return queryset.filter(
            RawSQL(
                '"logs_event"."search_vector" @@ websearch_to_tsquery(\'simple\', %s)',
                (value,),
                output_field=BooleanField(),
            )
        )
