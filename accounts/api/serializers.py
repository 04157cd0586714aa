from __future__ import annotations

from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainSerializer as CredentialsSerializer

from auditlog_project.validation import StrictSerializerMixin

from ..services import token_pair_issue, token_pair_rotate


class TokenObtainSerializer(StrictSerializerMixin, CredentialsSerializer):
    """`{"username","password"}` -> access and refresh tokens of a new token family."""

    def validate(self, attrs):
        super().validate(attrs)  # authenticates: self.user, or 401
        return token_pair_issue(user=self.user)


class TokenRefreshRotatingSerializer(StrictSerializerMixin, serializers.Serializer):
    """`{"refresh"}` -> a new pair; the refresh token given works only this once."""

    refresh = serializers.CharField()

    def validate(self, attrs):
        return token_pair_rotate(refresh=attrs["refresh"])


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
    # Optional at creation: "" when none was given, so not always an email address.
    email = serializers.CharField()
    is_platform_admin = serializers.BooleanField(source="is_superuser")
