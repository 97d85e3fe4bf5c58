"""Photos as evidence (issue 18): a customer's photo of a damaged or wrong item belongs to the
complaint or return it shows, in whichever order the customer sends them.

- Opening a complaint or a return takes in the photos the same chat sent shortly before
  (`link_earlier`): customers often send the picture first and explain after.
- A photo sent afterwards goes to the chat's newest complaint or return that is still open and
  was opened recently (`link_new`), in the unit of work that stores it; the acknowledgement
  then names it.
- Whether to ask for one (`wants_photo`): the customer's own words say the item arrived
  damaged or is not what they ordered. Asked after the complaint/return is open, never
  before: a customer who has no photo, or leaves, loses nothing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import (
    Attachment,
    ReturnRequest,
    Ticket,
    TicketKind,
    TicketStatus,
    utcnow,
)
from crm_store.services.returns import OPEN_STATUSES as OPEN_RETURN_STATUSES

# A photo the chat sent this long before the complaint/return was opened is taken to show it.
BEFORE = timedelta(hours=1)
# A photo sent this long after the complaint/return was opened, while it is open, is for it;
# later, a new photo is just part of the chat (staff can still see it there).
AFTER = timedelta(days=1)
OPEN_TICKET_STATUSES = frozenset({TicketStatus.OPEN, TicketStatus.PENDING})

# Damage, or the wrong thing sent: what a photo proves. Word starts, so "scratched",
# "cracks" and "leaking" match their stems.
_PHOTO_WORTHY = re.compile(
    r"\b(damag|broke|crack|scratch|dent|smash|shatter|torn|rip(ped|s)?\b|crush|leak|stain|"
    r"defect|faulty|chipped|bent\b|mould|mold|dirty|"
    r"wrong (item|product|colou?r|size|model|one|thing|article|book|part|shoe)|"
    r"not (what|the one|the item) i (ordered|bought|paid for)|sent (me )?the wrong|"
    r"different (item|product|colou?r|model)|missing (part|piece))",
    re.IGNORECASE)


def wants_photo(text: str | None) -> bool:
    """Whether the customer's words describe something a photo would show."""
    return bool(_PHOTO_WORTHY.search(text or ""))


def label(case: Ticket | ReturnRequest) -> str:
    """How the customer and staff name it: "complaint T-1001", "ticket T-1002", "return R-7"."""
    if isinstance(case, ReturnRequest):
        return f"return R-{case.id}"
    kind = "complaint" if case.kind == TicketKind.COMPLAINT else "ticket"
    return f"{kind} {case.reference or case.id}"


def link_earlier(session: Session, case: Ticket | ReturnRequest, *, conversation_id: int,
                 now: datetime | None = None) -> list[Attachment]:
    """Make the chat's recent photos and files that are evidence for nothing yet evidence for
    this newly opened case; returns them."""
    now = now or utcnow()
    rows = list(session.scalars(
        select(Attachment).where(Attachment.conversation_id == conversation_id,
                                 Attachment.ticket_id.is_(None),
                                 Attachment.return_id.is_(None),
                                 Attachment.created_at >= now - BEFORE)
        .order_by(Attachment.id)))
    for row in rows:
        _set_case(row, case)
    session.flush()
    return rows


def link_new(session: Session, attachment: Attachment,
             now: datetime | None = None) -> str | None:
    """Make a just-stored file evidence for the chat's open case, if it has one; its label."""
    case = open_case(session, conversation_id=attachment.conversation_id, now=now)
    if case is None:
        return None
    _set_case(attachment, case)
    session.flush()
    return label(case)


def open_case(session: Session, *, conversation_id: int,
              now: datetime | None = None) -> Ticket | ReturnRequest | None:
    """The chat's newest complaint/ticket or return opened within AFTER and still open."""
    since = (now or utcnow()) - AFTER
    ticket = session.scalar(
        select(Ticket).where(Ticket.conversation_id == conversation_id,
                             Ticket.kind != TicketKind.FEEDBACK,
                             Ticket.status.in_(OPEN_TICKET_STATUSES),
                             Ticket.created_at >= since)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(1))
    ret = session.scalar(
        select(ReturnRequest).where(ReturnRequest.conversation_id == conversation_id,
                                    ReturnRequest.status.in_(OPEN_RETURN_STATUSES),
                                    ReturnRequest.created_at >= since)
        .order_by(ReturnRequest.created_at.desc(), ReturnRequest.id.desc()).limit(1))
    if ticket is None or ret is None:
        return ticket or ret
    return ret if _aware(ret.created_at) > _aware(ticket.created_at) else ticket


def for_tickets(session: Session, ticket_ids: list[int]) -> dict[int, list[Attachment]]:
    """Each ticket's photos and files, oldest first (one query for a page of tickets)."""
    found: dict[int, list[Attachment]] = defaultdict(list)
    if not ticket_ids:
        return found
    for row in session.scalars(select(Attachment).where(Attachment.ticket_id.in_(ticket_ids))
                               .order_by(Attachment.id)):
        found[row.ticket_id].append(row)
    return found


def _set_case(row: Attachment, case: Ticket | ReturnRequest) -> None:
    if isinstance(case, ReturnRequest):
        row.return_id = case.id
    else:
        row.ticket_id = case.id


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)
