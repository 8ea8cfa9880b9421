"""API tokens: only a SHA-256 of the secret is stored; the secret is shown once, at creation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.errors import InvalidInput
from domain.limits import check_text
from domain.model import new_id
from domain.store import models as t

ROLES = ("agent", "admin")
PREFIX = "bd_"


@dataclass(frozen=True)
class TokenInfo:
    id: str
    name: str
    role: str
    created_at: datetime | None = None
    last_used_at: datetime | None = None


def _info(row: t.ApiToken) -> TokenInfo:
    return TokenInfo(row.id, row.name, row.role, row.created_at, row.last_used_at)


USE_RECORDED_EVERY = timedelta(minutes=5)  # "last used" to the minute is enough, and spares a write per request


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_token(name: str, role: str) -> tuple[TokenInfo, str]:
    name = check_text(name, "name", max_length=100, what="a token's name")
    if not name:
        raise InvalidInput("a token needs a name of 1 to 100 characters", field="name")
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    secret = PREFIX + secrets.token_urlsafe(32)
    row = await t.ApiToken.create(id=new_id(), name=name, role=role, token_hash=_hash(secret))
    return _info(row), secret


async def verify_token(secret: str) -> TokenInfo | None:
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    row = await t.ApiToken.get_or_none(token_hash=_hash(secret), revoked_at=None)
    if row is None:
        return None
    now = datetime.now(UTC)
    if row.last_used_at is None or now - row.last_used_at > USE_RECORDED_EVERY:
        await t.ApiToken.filter(id=row.id).update(last_used_at=now)
        row.last_used_at = now
    return _info(row)


async def revoke_token(token_id: str) -> bool:
    return bool(await t.ApiToken.filter(id=token_id, revoked_at=None).update(revoked_at=datetime.now(UTC)))


async def list_tokens() -> list[TokenInfo]:
    return [_info(r) for r in await t.ApiToken.filter(revoked_at=None).order_by("id")]


async def token_info(token_id: str) -> TokenInfo | None:
    """The token in use with this id (None once revoked)."""
    row = await t.ApiToken.get_or_none(id=token_id, revoked_at=None)
    return _info(row) if row is not None else None


async def token_is_active(token_id: str) -> bool:
    return await t.ApiToken.filter(id=token_id, revoked_at=None).exists()
