"""Saved segments for marketers, with live audience counts (consenting, reachable customers)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from bot import store
from bot.auth import no_store
from bot.routes.deps import MarketingStaff
from bot.routes.errors import http_errors
from bot.schemas import SegmentValuesPublic
from crm_store.services import segments

router = APIRouter(prefix="/api/segments", tags=["segments"], dependencies=[Depends(no_store)])

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "not signed in"}, 403: {"description": "not a marketer or admin"}}


class SegmentCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    rules: dict[str, Any] = Field(default_factory=dict)


class RulesBody(BaseModel):
    rules: dict[str, Any] = Field(default_factory=dict)


class SegmentPublic(BaseModel):
    id: int
    name: str
    rules: dict[str, Any]
    audience: int  # customers who consented on a channel we can reach them on
    members: int  # everyone the rules select, consent or not


def _public(session, segment) -> SegmentPublic:
    return SegmentPublic(id=segment.id, name=segment.name, rules=segment.rules,
                         audience=segments.audience_count(session, segment.rules),
                         members=len(segments.members(session, segment.rules)))


@router.get("", response_model=list[SegmentPublic], responses=AUTH_ERRORS)
async def list_segments(staff: MarketingStaff) -> list[SegmentPublic]:
    return await store.run(lambda s: [_public(s, seg) for seg in segments.list_segments(s)])


@router.get("/values", response_model=SegmentValuesPublic, responses=AUTH_ERRORS)
async def known_values(staff: MarketingStaff) -> SegmentValuesPublic:
    """The values rules can name that the store holds now (interests, categories, tags,
    languages) and the fixed ones (RFM tiers, channels, interest sources), for the builder."""
    return SegmentValuesPublic(**await store.run(segments.known_values))


@router.post("", response_model=SegmentPublic, status_code=201,
             responses={**AUTH_ERRORS, 422: {"description": "a bad rule or a taken name"}})
async def create_segment(body: SegmentCreate, staff: MarketingStaff) -> SegmentPublic:
    def work(session) -> SegmentPublic:
        return _public(session, segments.create(session, name=body.name, rules=body.rules,
                                                created_by_id=staff.id))
    with http_errors():
        return await store.run(work)


@router.post("/count", responses={**AUTH_ERRORS, 422: {"description": "a bad rule"}})
async def count_audience(body: RulesBody, staff: MarketingStaff) -> dict[str, int]:
    """The live audience of unsaved rules, for the segment builder."""
    def work(session) -> dict[str, int]:
        return {"audience": segments.audience_count(session, body.rules),
                "members": len(segments.members(session, body.rules))}
    with http_errors():
        return await store.run(work)
