"""Staff sign-in: lockout after repeated failures, and the sessions a sign-in opens.

Callers pass a keyed hash of each token (bot/auth.py holds the key); the token itself never
reaches the store. A session is either a browser cookie or an API bearer token; both end at
`expires_at`, at sign-out, or when the account is disabled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput
from crm_store.models import LoginThrottle, StaffSession, StaffUser, utcnow
from crm_store.normalise import normalise_email
from crm_store.services import audit, staff

logger = logging.getLogger(__name__)

SESSION_KINDS = ("browser", "api")
# A session's last_seen_at is written at most this often (not on every request).
TOUCH_INTERVAL = timedelta(minutes=1)
# Failed sign-ins older than this no longer count towards a lockout.
THROTTLE_MEMORY = timedelta(days=1)


@dataclass(frozen=True)
class SignIn:
    """The signed-in user, or why not: wrong credentials (both None) or a lockout."""

    user: StaffUser | None
    locked_until: datetime | None = None


def _throttle_key(email: str) -> str:
    try:
        return normalise_email(email)
    except InvalidInput:
        return (email or "").strip().lower()[:320]


def sign_in(session: Session, *, email: str, password: str, max_failures: int,
            lockout: timedelta, now: datetime | None = None) -> SignIn:
    """Check the credentials unless the address is locked out; count failures.

    `max_failures` wrong passwords in a row lock the address for `lockout`; while locked, even
    the right password is refused (and not checked, so guessing costs the attacker the wait).
    The count is kept per address whether or not an account has it, so the lockout gives
    nothing away about which addresses are staff.
    """
    now = now or utcnow()
    key = _throttle_key(email)
    throttle = session.get(LoginThrottle, key) if key else None
    if throttle is not None and throttle.locked_until is not None:
        if throttle.locked_until > now:
            return SignIn(None, throttle.locked_until)
        throttle.locked_until = None
        throttle.failures = 0
    user = staff.authenticate(session, email=email, password=password)
    if user is not None:
        if throttle is not None:
            session.delete(throttle)
        audit.record(session, actor=f"staff:{user.id}", staff_id=user.id, action="staff.login",
                     entity="staff", entity_id=user.id)
        return SignIn(user)
    if not key:
        return SignIn(None)
    throttle = _count_failure(session, key, now)
    if throttle.failures >= max_failures:
        throttle.locked_until = now + lockout
        throttle.failures = 0
        account = session.scalar(select(StaffUser.id).where(StaffUser.email == key))
        # The log says an account was locked, never which address was tried.
        audit.record(session, actor="system", action="staff.lockout",
                     entity="staff" if account else "login", entity_id=account,
                     details={"minutes": int(lockout.total_seconds() // 60)})
        logger.warning("staff sign-in locked for %s minutes after %s failures",
                       int(lockout.total_seconds() // 60), max_failures)
        return SignIn(None, throttle.locked_until)
    return SignIn(None)


def _count_failure(session: Session, key: str, now: datetime) -> LoginThrottle:
    throttle = session.get(LoginThrottle, key)
    if throttle is None:
        try:
            # A savepoint: two replicas counting the first failure for one address at once.
            with session.begin_nested():
                throttle = LoginThrottle(email=key, failures=0)
                session.add(throttle)
                session.flush()
        except IntegrityError:
            throttle = session.get(LoginThrottle, key)
            if throttle is None:
                raise
    throttle.failures += 1
    throttle.last_failure_at = now
    return throttle


def open_session(session: Session, *, staff_id: int, token_hash: str, kind: str,
                 lifetime: timedelta, now: datetime | None = None) -> StaffSession:
    if kind not in SESSION_KINDS:
        raise InvalidInput(f"unknown session kind {kind!r}")
    now = now or utcnow()
    opened = StaffSession(staff_id=staff_id, token_hash=token_hash, kind=kind, created_at=now,
                          expires_at=now + lifetime, last_seen_at=now)
    session.add(opened)
    session.flush()
    return opened


def active(session: Session, *, token_hash: str,
           now: datetime | None = None) -> tuple[StaffSession, StaffUser] | None:
    """The live session with this token hash and its (active) user, else None."""
    now = now or utcnow()
    row = session.execute(
        select(StaffSession, StaffUser).join(StaffUser, StaffUser.id == StaffSession.staff_id)
        .where(StaffSession.token_hash == token_hash)).first()
    if row is None:
        return None
    found, user = row
    if found.expires_at <= now or not user.active:
        return None
    if found.last_seen_at is None or now - found.last_seen_at >= TOUCH_INTERVAL:
        found.last_seen_at = now
    return found, user


def close(session: Session, *, token_hash: str) -> StaffSession | None:
    """Sign-out: the session ends now. Returns the closed session (None if it was unknown)."""
    found = session.scalar(select(StaffSession).where(StaffSession.token_hash == token_hash))
    if found is None:
        return None
    audit.record(session, actor=f"staff:{found.staff_id}", staff_id=found.staff_id,
                 action="staff.logout", entity="staff", entity_id=found.staff_id,
                 details={"kind": found.kind})
    session.delete(found)
    return found


def close_all(session: Session, *, staff_id: int) -> int:
    """End every session of one staff member (disabled account, new password)."""
    return session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id)
                           ).rowcount or 0


def purge_expired(session: Session, *, now: datetime | None = None) -> int:
    """Forget ended sessions, and failure counts nobody added to for a day (guessed
    addresses would otherwise pile up)."""
    now = now or utcnow()
    ended = session.execute(delete(StaffSession).where(StaffSession.expires_at <= now)
                            ).rowcount or 0
    session.execute(delete(LoginThrottle).where(
        LoginThrottle.last_failure_at < now - THROTTLE_MEMORY,
        (LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until <= now)))
    return ended
