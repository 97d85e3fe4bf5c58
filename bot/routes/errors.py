"""crm_store's errors as HTTP answers, with the store's reason as the detail."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

from crm_store.errors import InvalidInput, NotAllowed, NotFound

logger = logging.getLogger(__name__)


@contextmanager
def http_errors() -> Iterator[None]:
    try:
        yield
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except NotAllowed as exc:
        # Understood, but the conversation or ticket is not in a state that allows it.
        raise HTTPException(409, str(exc)) from exc
    except InvalidInput as exc:
        raise HTTPException(422, str(exc)) from exc


async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
    # The database refused a value that came with the request: a NUL character in text, a
    # number past a column's range (an id like 99999999999), text longer than its column.
    # That is the caller's input, so a 422 with the database's reason; the unit of work it
    # was part of was rolled back whole, so nothing of the request was written.
    reason = str(getattr(exc, "orig", None) or "").strip().splitlines()
    logger.info("%s %s: value refused by the store: %s", request.method, request.url.path,
                reason[0] if reason else exc)
    return JSONResponse(
        {"detail": "a value in the request cannot be stored"
                   + (f": {reason[0]}" if reason else "")},
        status_code=422)


class AsciiJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI's own 422, written as ASCII JSON: its errors echo the input, and input holding a
    # lone surrogate ("\ud800", valid JSON) cannot be written as UTF-8 (a 500 otherwise).
    return AsciiJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)


def install(app: FastAPI) -> None:
    """Answers for errors no route handles itself (registered once by bot.app)."""
    app.add_exception_handler(DataError, _unstorable)
    app.add_exception_handler(RequestValidationError, _invalid_request)
