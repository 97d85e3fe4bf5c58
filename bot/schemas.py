"""What the staff APIs take and return (pydantic; they make the OpenAPI at /openapi.json).

`XPublic` is what a caller reads, `XUpdate`/`XCreate` what it may send. Request bodies refuse
unknown fields, so a misspelt field is a 422 with its name rather than silently ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Role = Literal["agent", "marketer", "admin"]
HandoffState = Literal["waiting", "claimed", "resolved"]
Priority = Literal["low", "normal", "high", "urgent"]
TicketStatusName = Literal["open", "pending", "resolved", "closed"]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- auth ----------------------------------------------------------------------------------------

class LoginBody(Body):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class StaffPublic(BaseModel):
    id: int
    email: str
    name: str | None
    role: Role


class TokenPublic(BaseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    staff: StaffPublic


class StaffRef(BaseModel):
    id: int
    name: str


# --- handoffs ------------------------------------------------------------------------------------

class HandoffPublic(BaseModel):
    id: int
    conversation_id: int
    customer_id: int | None
    customer_name: str
    channel: str
    status: HandoffState
    reason: str | None
    created_at: datetime
    priority: Priority
    # Until claimed: how long the customer has waited so far; then how long they waited.
    waiting_seconds: int
    claimed_by: StaffRef | None
    claimed_at: datetime | None
    resolved_at: datetime | None
    last_message: str | None
    # The address the customer left, while waiting outside business hours, for the answer to
    # be sent to as well as the chat; with a ready mailto: link (subject: "Your question to
    # <shop>"). Kefu sends no email itself: the agent who answers does.
    reply_email: str | None = None
    reply_mailto: str | None = None


class ResolveBody(Body):
    note: Annotated[str | None, Field(max_length=2000)] = None


class ResolvedPublic(BaseModel):
    handoff: HandoffPublic
    # Whether the assistant asked the customer for a 1-5 rating (false when Rasa is down).
    rating_requested: bool


class TransferBody(Body):
    staff_id: int


# --- agents' availability (automatic assignment) -------------------------------------------------

class AgentPublic(BaseModel):
    """One agent or admin as automatic assignment sees them."""

    id: int
    email: str
    name: str | None
    role: Role
    status: Literal["online", "away"]
    since: datetime | None  # when the status last changed; None: never set (away)
    open: int  # conversations they hold now
    capacity: int  # the most they are given automatically
    own_capacity: int | None  # set for this agent; None: the default (KEFU_AGENT_CAPACITY)


class AvailabilityBody(Body):
    status: Literal["online", "away"]


class CapacityBody(Body):
    capacity: int | None = Field(..., ge=1, le=100)  # None: back to the default


# --- conversations -------------------------------------------------------------------------------

class ButtonPublic(BaseModel):
    title: str
    payload: str


class ProductPublic(BaseModel):
    sku: str
    name: str
    price: str | None = None
    image: str | None = None
    reason: str | None = None


class MessagePublic(BaseModel):
    id: int
    direction: Literal["inbound", "outbound"]
    sender: Literal["customer", "bot", "agent", "system"]
    text: str
    buttons: list[ButtonPublic] = []
    products: list[ProductPublic] = []
    image: str | None = None
    at: datetime
    # Outbound: pending, sent, delivered or failed.
    status: str | None = None
    staff_id: int | None = None
    intent: str | None = None
    confidence: float | None = None
    # The help article a bot answer was taken from ({"slug", "title"}).
    article: dict[str, str] | None = None
    # A customer's photo or file: id, type, name, size, width, height, and `url`, a link
    # signed for the member of staff reading it (GET /attachments/{id}, expires).
    attachment: dict[str, Any] | None = None


class NotePublic(BaseModel):
    id: int
    text: str
    at: datetime
    staff: StaffRef | None


class ConversationPublic(BaseModel):
    id: int
    channel: str
    customer_id: int | None
    mode: Literal["bot", "human"]
    started_at: datetime
    last_message_at: datetime | None
    satisfaction: int | None
    # The active handoff, else the latest one.
    handoff: HandoffPublic | None
    messages: list[MessagePublic]
    notes: list[NotePublic]


class MessageCreate(Body):
    text: Text


class NoteCreate(Body):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class CannedResponse(BaseModel):
    id: str
    title: str
    text: str


# --- customers -----------------------------------------------------------------------------------

class IdentityPublic(BaseModel):
    channel: str
    verified: bool
    last_seen_at: datetime | None


class InterestPublic(BaseModel):
    topic: str
    source: str
    weight: float


class OrderItemPublic(BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price: str


class OrderPublic(BaseModel):
    id: int
    order_number: str
    status: str
    total: str
    currency: str
    created_at: datetime
    carrier: str | None
    tracking_number: str | None
    items: list[OrderItemPublic]


class ConversationRefPublic(BaseModel):
    id: int
    channel: str
    mode: str
    last_message_at: datetime | None


class TicketPublic(BaseModel):
    id: int
    reference: str | None
    customer_id: int | None
    customer_name: str | None
    conversation_id: int | None
    kind: str
    category: str
    priority: Priority
    status: TicketStatusName
    subject: str
    description: str
    channel: str | None
    sla_due_at: datetime
    sla_breached: bool
    assignee: StaffRef | None
    resolution: str | None
    satisfaction: int | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    # The customer's photos and files added to it (crm_store/services/evidence.py), as in
    # MessagePublic.attachment, with a link signed for the member of staff reading it.
    attachments: list[dict[str, Any]] = []


class CustomerPublic(BaseModel):
    id: int
    name: str | None
    email: str | None
    phone: str | None
    language: str | None
    segment: str | None
    tags: list[str]
    marketing_opt_in: bool
    created_at: datetime
    last_seen_at: datetime | None
    erased: bool
    identities: list[IdentityPublic]
    interests: list[InterestPublic]
    orders: list[OrderPublic]
    tickets: list[TicketPublic]
    conversations: list[ConversationRefPublic]


# --- search --------------------------------------------------------------------------------------

SearchKind = Literal["conversations", "customers", "tickets"]


class ConversationHitPublic(BaseModel):
    """A conversation found by what was said in it: its newest matching message."""
    id: int
    channel: str
    mode: str
    customer_id: int | None
    customer_name: str
    last_message_at: datetime | None
    message_id: int
    sender: str
    at: datetime
    snippet: str


class CustomerHitPublic(BaseModel):
    id: int
    name: str | None
    email: str | None
    phone: str | None
    # Why it matched when not by the profile's words: "order A1178", "phone".
    matched: str | None


class SearchPublic(BaseModel):
    query: str
    conversations: list[ConversationHitPublic]
    customers: list[CustomerHitPublic]
    tickets: list[TicketPublic]


# --- tickets -------------------------------------------------------------------------------------

class TicketUpdate(Body):
    """Only the fields sent change; `"assignee_id": null` unassigns."""

    status: TicketStatusName | None = None
    priority: Priority | None = None
    assignee_id: int | None = None
    resolution: Annotated[str | None, Field(max_length=4000)] = None


# --- marketing -----------------------------------------------------------------------------------

class CampaignTestSendPublic(BaseModel):
    """A campaign's test message, queued on the marketer's own customer account's chat."""

    campaign_id: int
    channel: str
    conversation_id: int
    message_id: int
    # What was queued: "[Test] " and the message as the marketer's account reads it.
    text: str


class SegmentValuesPublic(BaseModel):
    """What segment rules can name, as the store holds it now (for the rule builder)."""

    interests: list[str]
    categories: list[str]
    tags: list[str]
    languages: list[str]
    rfm_tiers: list[str]
    channels: list[str]
    interest_sources: list[str]
