from __future__ import annotations

from datetime import timedelta
from typing import cast

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer

from auditlog_project.validation import StrictSerializerMixin


def _token_extras() -> dict:
    lifetime = cast(timedelta, settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"])
    return {"token_type": "Bearer", "expires_in": int(lifetime.total_seconds())}


class TokenObtainSerializer(StrictSerializerMixin, TokenObtainPairSerializer):
    """`{"username","password"}` -> access and refresh tokens with their lifetime."""

    def validate(self, attrs):
        return {**super().validate(attrs), **_token_extras()}


class TokenRefreshRotatingSerializer(StrictSerializerMixin, TokenRefreshSerializer):
    """Rotate a refresh token; a deleted or deactivated user's token is refused."""

    def validate(self, attrs):
        try:
            return {**super().validate(attrs), **_token_extras()}
        except get_user_model().DoesNotExist:
            raise AuthenticationFailed(
                "No active account found for the given token.", "no_active_account"
            ) from None


class TokenPairResponseSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Access token lifetime in seconds.")


class LogoutSerializer(StrictSerializerMixin, serializers.Serializer):
    refresh = serializers.CharField()


class MembershipSerializer(serializers.Serializer):
    tenant_id = serializers.CharField()
    role = serializers.CharField()


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    is_platform_admin = serializers.BooleanField()
    memberships = MembershipSerializer(many=True)


class UserCreateSerializer(StrictSerializerMixin, serializers.Serializer):
    username = serializers.RegexField(
        r"^[\w.@+-]{1,150}$", max_length=150, help_text="Letters, digits and @.+-_ only."
    )
    password = serializers.CharField(write_only=True, max_length=256, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class UserSerializer(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.EmailField()
    is_platform_admin = serializers.BooleanField(source="is_superuser")
