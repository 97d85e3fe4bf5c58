"""Campaigns for marketers: the /marketing page and its JSON API.

Sending queues one outbound message per consenting, reachable recipient in crm_store
(marketing.sending.send); the gateway's dispatcher picks them up on its next sweep
and delivers them with retries like any other message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from bot import auth, store
from bot.auth import MARKETING_ROLES, Staff, no_store, require_staff_page
from bot.routes.deps import MarketingStaff
from bot.routes.errors import http_errors
from bot.routes.segments import AUTH_ERRORS
from bot.schemas import CampaignTestSendPublic
from crm_store.errors import InvalidInput
from crm_store.models import Campaign, utcnow
from crm_store.services import campaigns, segments
from marketing import composing, scheduler, sending, test_send

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

api_router = APIRouter(prefix="/api/campaigns", tags=["campaigns"],
                       dependencies=[Depends(no_store)])
page_router = APIRouter(include_in_schema=False)
PageStaff = Annotated[Staff, Depends(require_staff_page(*MARKETING_ROLES))]


class CampaignCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=3000)
    segment_id: int | None = None
    topic: str | None = Field(default=None, max_length=80)
    # Send at this moment (ISO 8601 with a time zone) instead of on demand.
    scheduled_at: datetime | None = None


class CampaignUpdate(BaseModel):
    """A draft's changes: only the fields given change; "scheduled_at": null unschedules it."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    message: str | None = Field(default=None, min_length=1, max_length=3000)
    segment_id: int | None = None
    topic: str | None = Field(default=None, max_length=80)
    scheduled_at: datetime | None = None


class PreviewBody(BaseModel):
    message: str = Field(min_length=1, max_length=3000)
    segment_id: int | None = None
    customer_id: int | None = None
    # The campaign's topic: the recommended product must fit it (else the segment's interests).
    topic: str | None = Field(default=None, max_length=80)


class CampaignPublic(BaseModel):
    id: int
    name: str
    kind: str
    status: str
    message: str
    segment_id: int | None
    topic: str | None
    product_sku: str | None
    scheduled_at: datetime | None
    sent_at: datetime | None
    recipients: int


def _public(session, campaign: Campaign) -> CampaignPublic:
    return CampaignPublic(id=campaign.id, name=campaign.name, kind=campaign.kind,
                          status=campaigns.status_of(session, campaign).value, message=campaign.message,
                          segment_id=campaign.segment_id, topic=campaign.topic,
                          product_sku=campaign.product_sku, scheduled_at=campaign.scheduled_at,
                          sent_at=campaign.sent_at, recipients=len(campaign.deliveries))


@api_router.get("", response_model=list[CampaignPublic], responses=AUTH_ERRORS)
async def list_campaigns(staff: MarketingStaff) -> list[CampaignPublic]:
    def work(session) -> list[CampaignPublic]:
        rows = session.scalars(select(Campaign).order_by(Campaign.id.desc()).limit(200))
        return [_public(session, c) for c in rows]
    return await store.run(work)


@api_router.post("", response_model=CampaignPublic, status_code=201,
             responses={**AUTH_ERRORS, 404: {"description": "no such segment"},
                        422: {"description": "no audience, an unknown placeholder"}})
async def create_campaign(body: CampaignCreate, staff: MarketingStaff) -> CampaignPublic:
    _aware_schedule(body.scheduled_at)

    def work(session) -> CampaignPublic:
        campaign = campaigns.create(session, name=body.name, message=body.message,
                                    topic=body.topic, segment_id=body.segment_id,
                                    scheduled_at=body.scheduled_at, created_by_id=staff.id)
        return _public(session, campaign)
    with http_errors():
        return await store.run(work)


def _aware_schedule(scheduled_at: datetime | None) -> None:
    if scheduled_at is not None and scheduled_at.tzinfo is None:
        raise HTTPException(422, "scheduled_at needs a time zone (e.g. 2026-12-01T10:00+00:00)")


DRAFT_ERRORS = {**AUTH_ERRORS, 404: {"description": "no such campaign"},
                409: {"description": "not a draft any more (already sent)"}}


@api_router.patch("/{campaign_id}", response_model=CampaignPublic,
                  responses={**DRAFT_ERRORS,
                             422: {"description": "an empty name or message, an unknown "
                                                  "placeholder, no audience"}})
async def update_campaign(campaign_id: int, body: CampaignUpdate,
                          staff: MarketingStaff) -> CampaignPublic:
    """Edit a draft: its name, message, audience (segment or topic) or schedule."""
    _aware_schedule(body.scheduled_at)
    given = body.model_fields_set
    if not given:
        raise HTTPException(422, "nothing to change: give a name, message, segment_id, topic "
                                 "or scheduled_at")

    def work(session) -> CampaignPublic:
        campaign = campaigns.update(
            session, campaign_id=campaign_id, name=body.name, message=body.message,
            segment_id=body.segment_id, topic=body.topic, staff_id=staff.id,
            scheduled_at=body.scheduled_at if "scheduled_at" in given else campaigns.KEEP)
        return _public(session, campaign)
    with http_errors():
        return await store.run(work)


@api_router.delete("/{campaign_id}/schedule", response_model=CampaignPublic,
                   responses=DRAFT_ERRORS)
async def unschedule_campaign(campaign_id: int, staff: MarketingStaff) -> CampaignPublic:
    """Cancel a scheduled send: the campaign is a draft again, sent only when someone sends
    it (409 if it is not scheduled or already went out)."""
    def work(session) -> CampaignPublic:
        return _public(session, campaigns.unschedule(session, campaign_id=campaign_id,
                                                     staff_id=staff.id))
    with http_errors():
        return await store.run(work)


@api_router.delete("/{campaign_id}", status_code=204, responses=DRAFT_ERRORS)
async def delete_campaign(campaign_id: int, staff: MarketingStaff) -> Response:
    """Delete a draft; a campaign that went out stays, for its report (409)."""
    with http_errors():
        await store.run(lambda s: campaigns.delete(s, campaign_id=campaign_id,
                                                   staff_id=staff.id))
    return Response(status_code=204)


@api_router.post("/preview", responses={**AUTH_ERRORS, 404: {"description": "no such customer"},
                                     422: {"description": "nobody to preview for"}})
async def preview_campaign(body: PreviewBody, staff: MarketingStaff) -> dict[str, Any]:
    """The message as one customer would read it: the one given, else the segment's first
    reachable member."""
    def work(session) -> dict[str, Any]:
        customer_id = body.customer_id
        rules = segments.get(session, segment_id=body.segment_id).rules \
            if body.segment_id is not None else None
        if customer_id is None:
            if rules is None:
                raise InvalidInput("give a customer_id or a segment_id to preview for")
            audience = segments.audience(session, rules)
            if not audience:
                raise InvalidInput("the segment has nobody who can receive it")
            customer_id = audience[0][0].id
        topic = composing.campaign_topic(body.topic, segments.parse_rules(rules)
                                         if rules is not None else None)
        shown = composing.preview(session, message=body.message, customer_id=customer_id,
                                  recommender=composing.recommendation_or_none, topic=topic)
        return {"customer_id": customer_id, "text": shown.text, "product": shown.product,
                "buttons": shown.payload.get("buttons", [])}
    with http_errors():
        return await store.run(work)


@api_router.post("/{campaign_id}/send",
             responses={**AUTH_ERRORS, 404: {"description": "no such campaign"},
                        409: {"description": "already sent"}})
async def send_campaign(campaign_id: int, request: Request,
                        staff: MarketingStaff) -> dict[str, Any]:
    """Queue it now for every consenting, reachable recipient within the frequency cap; in
    the quiet hours it waits (deferred_until) and goes out when they end."""
    now = utcnow()

    def work(session) -> dict[str, Any]:
        result = sending.send(session, campaign_id=campaign_id, now=now,
                              recommender=composing.recommendation_or_none)
        return {"queued": result.queued, "capped": result.capped,
                "no_product": result.no_product,
                "deferred_until": result.deferred_until.isoformat()
                if result.deferred_until else None}
    with http_errors():
        return await store.run(work)


@api_router.post("/{campaign_id}/test-send", response_model=CampaignTestSendPublic,
                 responses={**AUTH_ERRORS, 404: {"description": "no such campaign"},
                            409: {"description": "no customer account uses your email, or "
                                                 "it has no chat to send to"},
                            422: {"description": "no product to recommend to you"}})
async def test_send_campaign(campaign_id: int, staff: MarketingStaff) -> CampaignTestSendPublic:
    """Send the campaign's message, marked "[Test] ", to yourself: to the customer account
    whose email is yours, on its chat, through the same outbound queue as a real send. No
    delivery is recorded (the report and the frequency cap do not see it), the campaign stays
    as it is, and neither the cap nor consent holds it back; the audit log records it."""
    def work(session) -> CampaignTestSendPublic:
        sent = test_send.send_test(session, campaign_id=campaign_id, staff_id=staff.id,
                                   staff_email=staff.email,
                                   recommender=composing.recommendation_or_none)
        return CampaignTestSendPublic(campaign_id=sent.campaign_id, channel=sent.channel,
                              conversation_id=sent.conversation_id, message_id=sent.message_id,
                              text=sent.text)
    with http_errors():
        return await store.run(work)


@api_router.get("/{campaign_id}/report",
            responses={**AUTH_ERRORS, 404: {"description": "no such campaign"}})
async def campaign_report(campaign_id: int, staff: MarketingStaff) -> dict[str, Any]:
    """Recipients by status (queued, sent, failed, opted out), replies and orders placed
    within 7 days (conversion)."""
    with http_errors():
        return await store.run(lambda s: campaigns.report(s, campaign_id=campaign_id))


@page_router.get("/marketing")
async def marketing_page(request: Request, staff: PageStaff):
    return auth.render_page(request, "marketing.html",
                            {"staff": staff, "rfm_tiers": segments.RFM_TIERS,
                             "channels": segments.CHAT_CHANNELS})


@page_router.get("/marketing/static/{name}")
async def marketing_static(name: str) -> FileResponse:
    # format.js: every staff page's date and money helper (bot/routes/staff_console.py).
    files = {"marketing.js": "application/javascript", "format.js": "application/javascript"}
    if name not in files:
        raise HTTPException(404, "not found")
    return FileResponse(STATIC_DIR / name, media_type=files[name],
                        headers={"Cache-Control": "no-cache"})


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    task = asyncio.create_task(
        scheduler.sweep_forever(app.state.settings.campaign_sweep_interval, store.run),
        name="scheduled-campaigns")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# What bot/app.py includes: the API, the page, and the sweep for scheduled campaigns.
router = APIRouter(lifespan=_lifespan)
router.include_router(api_router)
router.include_router(page_router)
