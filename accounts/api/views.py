"""Auth and identity endpoints: token, refresh, logout, me, users."""

from __future__ import annotations

from django.db import transaction
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from auditlog_project import login_throttle
from auditlog_project.openapi import problem_responses
from tenants.permissions import IsPlatformAdmin

from ..selectors import user_identity
from ..services import token_family_revoke, user_create
from .serializers import (
    LogoutSerializer,
    MeSerializer,
    TokenObtainSerializer,
    TokenPairResponseSerializer,
    TokenRefreshRotatingSerializer,
    UserCreateSerializer,
    UserSerializer,
)


@extend_schema(
    tags=["auth"],
    auth=[],
    responses={200: TokenPairResponseSerializer, **problem_responses(400, 401, 429)},
)
class TokenView(TokenObtainPairView):
    """Exchange a username and password for tokens; logins are throttled.

    The throttle (`auditlog_project.login_throttle`, the authentication
    backend) counts attempts per client IP and failures per username and per
    IP; past a limit this endpoint answers 429 with Retry-After until the window
    ends, even for the right password, so guessing cannot continue.
    """

    serializer_class = TokenObtainSerializer
    throttle_classes: list = []

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            wait = login_throttle.retry_after(request)
            if wait is None:
                raise
            raise Throttled(wait=wait, detail="Too many login attempts.") from None


@extend_schema(
    tags=["auth"],
    auth=[],
    responses={200: TokenPairResponseSerializer, **problem_responses(400, 401)},
)
# Not in the request transaction: a reused token's family revocation must be
# committed although the answer is an error (which rolls the request back).
@method_decorator(transaction.non_atomic_requests, name="dispatch")
class TokenRefreshRotatingView(TokenRefreshView):
    """Exchange a refresh token for a new access token and a new refresh token.

    Each refresh token works once: of concurrent refreshes with one token,
    exactly one succeeds. Presenting a token that was already used revokes its
    whole session (every token issued from the same login), as after theft.
    """

    serializer_class = TokenRefreshRotatingSerializer


class LogoutView(APIView):
    """Revoke the session of the caller's refresh token: none of its refresh tokens
    work again. Access tokens already issued are not revoked; they expire within
    JWT_ACCESS_MINUTES (10 by default): a client drops its own on logout."""

    @extend_schema(
        tags=["auth"],
        request=LogoutSerializer,
        responses={
            204: OpenApiResponse(description="Logged out"),
            **problem_responses(400, 401, 403),
        },
    )
    def post(self, request):
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token_family_revoke(refresh=serializer.validated_data["refresh"], user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """Who the caller is: username, platform administrator flag, tenant roles."""

    @extend_schema(tags=["auth"], responses={200: MeSerializer, **problem_responses(401)})
    def get(self, request):
        return Response(user_identity(user=request.user))


class UserCreateView(APIView):
    """Create a user (platform administrators only); roles are granted per tenant."""

    permission_classes = [IsPlatformAdmin]

    @extend_schema(
        tags=["users"],
        request=UserCreateSerializer,
        responses={201: UserSerializer, **problem_responses(400, 401, 403, 409)},
    )
    def post(self, request):
        serializer = UserCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_create(**serializer.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)
