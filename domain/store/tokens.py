"""API tokens: only a SHA-256 of the secret is stored; the secret is shown once, at creation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.errors import InvalidInput
from domain.limits import check_text
from domain.model import new_id
from domain.store import current
from domain.store import models as t
from domain.store.mapping import as_datetime

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
    """The token in use whose secret this is, its use recorded."""
    info = await find_token(secret)
    return await record_use(info) if info is not None else None


async def find_token(secret: str, asking: current.Asking | None = None) -> TokenInfo | None:
    """The token in use whose secret this is, read only (`record_use` records the use). Given `asking` (the first
    read of a request's snapshot), the same statement answers whether a receipt's range is pending
    (domain.store.current): one row whatever the secret."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    if asking is None:
        row = await t.ApiToken.get_or_none(token_hash=_hash(secret), revoked_at=None)
        return _info(row) if row is not None else None
    db = t.ApiToken._meta.db
    [r] = await db.execute_query_dict(
        f'SELECT a.id AS id, a.name AS name, a.role AS role, a.created_at AS created_at, '
        f'a.last_used_at AS last_used_at, {asking.column} AS "pending" FROM (SELECT 1 AS "one") k '
        'LEFT JOIN "api_tokens" a ON a.token_hash = {} AND a.revoked_at IS NULL'.format(
            "$1" if db.capabilities.dialect == "postgres" else "?"), [_hash(secret)])
    asking.answer(r["pending"])
    if r["id"] is None:
        return None
    return TokenInfo(r["id"], r["name"], r["role"], as_datetime(r["created_at"]), as_datetime(r["last_used_at"]))


async def record_use(info: TokenInfo) -> TokenInfo:
    """`info` with its use recorded: a write at most every USE_RECORDED_EVERY (never in a read-only snapshot)."""
    now = datetime.now(UTC)
    if info.last_used_at is None or now - info.last_used_at > USE_RECORDED_EVERY:
        await t.ApiToken.filter(id=info.id).update(last_used_at=now)
        return TokenInfo(info.id, info.name, info.role, info.created_at, now)
    return info


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
