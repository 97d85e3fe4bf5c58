"""Addresses in Rasa's HTTP API (`rasa run --enable-api`) that Kefu calls."""

from __future__ import annotations

from urllib.parse import quote

# Sanic (Rasa 3.6's web server) matches `/conversations/<conversation_id:path>` without
# unquoting it, so an escaped ':' addresses another conversation ("rest%3A42", not "rest:42").
# Every character a URL path may hold stays as it is; only the rest (space, ?, #, %) is escaped,
# and a sender id holding those cannot be addressed exactly — Kefu's own ids never do.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def conversation_path(sender: str) -> str:
    return "/conversations/" + quote(sender, safe=_PATH_SAFE)
