"""Staff sign-in state: sessions (browser cookies and API tokens) and failed-login lockout.

Kept in the store, not in a process, so that several gateway replicas share who is signed in
and a lockout holds whichever replica the next attempt reaches.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_store.models.base import Base, utcnow


class StaffSession(Base):
    """One sign-in. Only a keyed hash of the token is stored: a copy of the database does not
    let anyone act as the staff member."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"),
                                          index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "browser" (HttpOnly cookie) or "api" (bearer token).
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    last_seen_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failed sign-ins per email address, whether or not an account has that address, so the
    lockout cannot be used to find out which staff emails exist."""

    __tablename__ = "login_throttle"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
