"""Errors the services raise. Callers (actions, gateway, CLI) turn them into polite answers."""

from __future__ import annotations


class StoreError(Exception):
    """Base class: something the caller asked for cannot be done; the message says why."""


class NotFound(StoreError):
    pass


class NotAllowed(StoreError):
    """The request is understood but the current state forbids it (e.g. cancel a shipped order)."""


class InvalidInput(StoreError, ValueError):
    pass
