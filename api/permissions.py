"""Who may read or do what. Staff (agent, admin) see everything; a customer principal (the portal)
sees only their own orders and backorders, and none of the shop's internals (stock, suppliers); a
customer signed in with an order number sees that order and nothing account-wide."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from api.context import Context


class IsAuthenticated(BasePermission):
    message = "Sign in: send an API token as 'Authorization: Bearer ...'."
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        return info.context.principal is not None


class IsStaff(BasePermission):
    message = "This needs an agent or admin token."
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        principal = info.context.principal
        return principal is not None and principal.is_staff


class IsAdmin(BasePermission):
    message = "This needs an admin token."
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        principal = info.context.principal
        return principal is not None and principal.role == "admin"


class HasAccount(BasePermission):
    """Account-wide data (preferences, the account itself): not for a one-order sign-in."""

    message = "Signed in for one order: use a sign-in link to see or change your account."
    error_extensions = {"code": "ACCOUNT_SIGN_IN_REQUIRED"}

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        principal = info.context.principal
        return principal is not None and principal.has_account
