"""Staff accounts: argon2id password hashes, roles, sign-in."""

from __future__ import annotations

import logging

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.errors import InvalidInput, NotFound
from crm_store.models import StaffRole, StaffUser, utcnow
from crm_store.normalise import normalise_email
from crm_store.services import audit

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()
# Verifying against a dummy hash for unknown emails keeps sign-in time the same either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def create_user(session: Session, *, email: str, password: str, role: StaffRole | str,
                name: str | None = None, actor: str = "system") -> StaffUser:
    email = normalise_email(email)
    try:
        role = StaffRole(role)
    except ValueError as exc:
        raise InvalidInput(f"unknown role {role!r} (agent, marketer or admin)") from exc
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise InvalidInput(f"a staff account for {email} already exists")
    user = StaffUser(email=email, name=name, password_hash=_hasher.hash(password), role=role)
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="staff.create", entity="staff",
                 entity_id=user.id, details={"role": role.value})
    return user


def authenticate(session: Session, *, email: str, password: str) -> StaffUser | None:
    """The active user with these credentials, else None (no hint which part was wrong)."""
    try:
        email = normalise_email(email)
    except InvalidInput:
        return None
    user = session.scalar(select(StaffUser).where(StaffUser.email == email))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    return user


def set_password(session: Session, *, user_id: int, password: str, actor: str) -> StaffUser:
    user = get(session, user_id=user_id)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = _hasher.hash(password)
    audit.record(session, actor=actor, action="staff.password", entity="staff", entity_id=user.id)
    return user


def set_active(session: Session, *, user_id: int, active: bool, actor: str) -> StaffUser:
    user = get(session, user_id=user_id)
    user.active = active
    audit.record(session, actor=actor, action="staff.active", entity="staff", entity_id=user.id,
                 details={"active": active})
    return user


def get(session: Session, *, user_id: int) -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound(f"no staff user {user_id}")
    return user


def list_users(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.email)))


def get_by_email(session: Session, *, email: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))
    if user is None:
        raise NotFound(f"no staff account for {email.strip()}")
    return user
