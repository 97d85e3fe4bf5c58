"""The dashboard: service KPIs as charts at /dashboard, their JSON and CSV, and the
not-understood inbox.

Admins see the whole shop; agents see their own figures (conversations they took over,
tickets assigned to them) and no sales figures; marketers are refused. The page is a shell;
bot/static/dashboard.js draws the charts (Chart.js, served from bot/static/vendor) from
  GET  /api/dashboard?start=YYYY-MM-DD&end=YYYY-MM-DD&channel=web   every KPI of the period
  GET  /api/dashboard/{kpi}.csv?...                                 one chart's data as CSV
  GET  /api/dashboard/inbox?...                                     not-understood groups
  POST /api/dashboard/inbox/label {"intent", "texts": [...]}        examples for review
Dates are UTC days; `end` is included. Without them: the last 30 days up to today.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from bot import auth, store
from bot.auth import SERVICE_ROLES, Staff, no_store, require_staff, require_staff_page
from bot.not_understood import (
    LabelRefused,
    ReviewFile,
    group_messages,
    known_intents,
    review_path,
)
from crm_store.services import analytics
from kefu_config import clock

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_FILES = {
    "dashboard.js": ("dashboard.js", "application/javascript"),
    "dashboard.css": ("dashboard.css", "text/css"),
    "chart.umd.min.js": ("vendor/chart-4.6.1.umd.min.js", "application/javascript"),
}
DEFAULT_DAYS = 30
MAX_DAYS = 366
CHANNELS = ("web", "telegram", "rest")
INBOX_LIMIT = 500

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/dashboard", tags=["dashboard"], dependencies=[Depends(no_store)])

DashboardPage = Annotated[Staff, Depends(require_staff_page(*SERVICE_ROLES))]
DashboardStaff = Annotated[Staff, Depends(require_staff(*SERVICE_ROLES))]


def scope_for(staff: Staff, start: date | None, end: date | None,
              channel: str | None) -> analytics.Scope:
    """The period asked for, limited to the agent's own figures unless an admin asks."""
    today = clock.now().date()
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise HTTPException(422, "end is before start")
    if (end - start).days + 1 > MAX_DAYS:
        raise HTTPException(422, f"a period is at most {MAX_DAYS} days")
    if channel is not None and channel not in CHANNELS:
        raise HTTPException(422, f"channel is one of {', '.join(CHANNELS)}")
    return analytics.Scope(
        start=datetime.combine(start, time(), UTC),
        end=datetime.combine(end + timedelta(days=1), time(), UTC),
        channel=channel or None,
        agent_id=None if staff.role == "admin" else staff.id)


class Period:
    """Query parameters shared by every dashboard API."""

    def __init__(self, start: Annotated[date | None, Query(description="first UTC day")] = None,
                 end: Annotated[date | None, Query(description="last UTC day")] = None,
                 channel: Annotated[str | None, Query(description="web, telegram, rest")
                                    ] = None) -> None:
        self.start, self.end, self.channel = start, end, channel or None


PeriodDep = Annotated[Period, Depends()]


def _scope_json(scope: analytics.Scope) -> dict:
    return {"start": scope.start.date().isoformat(),
            "end": (scope.end - timedelta(days=1)).date().isoformat(),
            "channel": scope.channel, "own_figures_only": scope.agent_id is not None}


# --- the page ------------------------------------------------------------------------------------

@router.get("/dashboard")
async def dashboard_page(request: Request, staff: DashboardPage):
    return auth.render_page(request, "dashboard.html",
                            {"staff": staff, "channels": CHANNELS,
                             "own_only": staff.role != "admin"})


@router.get("/dashboard/static/{name}")
async def dashboard_static(name: str) -> FileResponse:
    if name not in STATIC_FILES:
        raise HTTPException(404, "not found")
    path, media_type = STATIC_FILES[name]
    return FileResponse(STATIC_DIR / path, media_type=media_type,
                        headers={"Cache-Control": "no-cache"})


# --- KPIs ----------------------------------------------------------------------------------------

@api.get("", responses={401: {"description": "not signed in"},
                        403: {"description": "not an admin or agent"},
                        422: {"description": "a bad period or channel"}})
async def kpis(staff: DashboardStaff, period: PeriodDep) -> dict:
    """Every KPI of the period (an agent: their own)."""
    scope = scope_for(staff, period.start, period.end, period.channel)
    figures = await store.run(lambda session: analytics.dashboard(session, scope))
    return {"scope": _scope_json(scope), "kpis": figures}


def table(data) -> list[dict]:
    """A KPI's data as rows for CSV: lists as they are, breakdowns one row per part."""
    if isinstance(data, list):
        return data
    if data and all(isinstance(value, dict) for value in data.values()):
        return [{"measure": key, **value} for key, value in data.items()]
    lists = {key: value for key, value in data.items() if isinstance(value, list)}
    if lists:
        return [{"breakdown": key, **row} for key, rows in lists.items() for row in rows]
    return [data]


def to_csv(rows: list[dict]) -> str:
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


@api.get("/{kpi}.csv", responses={404: {"description": "no such KPI"}})
async def kpi_csv(kpi: str, staff: DashboardStaff, period: PeriodDep) -> Response:
    """One chart's data as CSV."""
    scope = scope_for(staff, period.start, period.end, period.channel)
    allowed = analytics.AGENT_KPIS if scope.agent_id is not None else tuple(analytics.KPIS)
    if kpi not in allowed:
        raise HTTPException(404, f"no KPI {kpi!r}; one of {', '.join(allowed)}")
    data = await store.run(lambda session: analytics.KPIS[kpi](session, scope))
    name = f"kefu-{kpi}-{_scope_json(scope)['start']}-{_scope_json(scope)['end']}.csv"
    return Response(to_csv(table(data)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --- the not-understood inbox --------------------------------------------------------------------

def _review(request: Request) -> ReviewFile:
    return ReviewFile(review_path(request.app.state.settings))


@api.get("/inbox")
async def inbox(request: Request, staff: DashboardStaff, period: PeriodDep) -> dict:
    """Messages the bot did not understand in the period, and confident answers the customer
    turned down or asked again, grouped by similarity."""
    scope = scope_for(staff, period.start, period.end, period.channel)
    messages = await store.run(
        lambda session: analytics.not_understood_messages(session, scope, limit=INBOX_LIMIT)
        + analytics.rejected_answers(session, scope, limit=INBOX_LIMIT))
    review = _review(request)

    def grouped() -> list[dict]:
        from knowledge.embedder import get_embedder

        encode = get_embedder(request.app.state.settings.embedding_model).encode
        return [g.as_dict() for g in group_messages(messages, encode,
                                                    exclude=review.labelled())]

    groups = await asyncio.to_thread(grouped)
    return {"scope": _scope_json(scope), "groups": groups, "intents": known_intents(),
            "considered": len(messages), "limit": INBOX_LIMIT}


class LabelRequest(BaseModel):
    intent: str = Field(min_length=1, max_length=80)
    texts: list[str] = Field(min_length=1, max_length=500)


@api.post("/inbox/label", responses={422: {"description": "unknown intent or no examples"}})
async def label(request: Request, body: LabelRequest, staff: DashboardStaff) -> dict:
    """Add a group's texts as examples of an intent to the review file (not the model)."""
    review = _review(request)
    try:
        added = await asyncio.to_thread(review.add, body.intent, body.texts,
                                        intents=known_intents())
    except LabelRefused as exc:
        raise HTTPException(422, str(exc)) from exc
    logger.info("staff %s labelled %d example(s) as %s", staff.id, len(added), body.intent)
    return {"intent": body.intent, "added": added, "review_file": str(review.path)}


def install(app) -> None:
    app.include_router(router)
    app.include_router(api)
