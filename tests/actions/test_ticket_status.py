"""Issue 14 item 4: ticket status asks in ticket words, checks references in the shop's own
format, and "my complaint" answers the latest ticket instead of listing them all."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from actions.tickets import ActionTicketStatus, ValidateTicketStatusForm
from crm_store.db import session_scope
from crm_store.models import utcnow
from crm_store.services import tickets
from tests.actions.conftest import said, tracker

DOMAIN = Path(__file__).resolve().parents[2] / "domain.yml"


def asked_by_form(domain: dict, form: str, slot: str) -> str | None:
    """What Rasa's form runs to ask for `slot` (rasa/core/actions/forms.py
    `_name_of_utterance`: the first of these the domain has)."""
    known = set(domain.get("actions") or []) | set(domain.get("responses") or {})
    for name in (f"action_ask_{form}_{slot}", f"utter_ask_{form}_{slot}", f"action_ask_{slot}",
                 f"utter_ask_{slot}"):
        if name in known:
            return name
    return None


def test_the_ticket_form_asks_for_the_email_used_for_the_ticket_not_an_order():
    domain = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))
    ticket_question = asked_by_form(domain, "ticket_status_form", "email")
    assert ticket_question is not None and ticket_question.startswith("utter_")
    text = domain["responses"][ticket_question][0]["text"]
    assert "order" not in text.lower() and "email" in text.lower()
    # The order form keeps asking for the order's email.
    order_question = asked_by_form(domain, "order_verification_form", "email")
    assert "order" in domain["responses"][order_question][0]["text"]


def test_a_reference_in_the_shops_own_format_is_accepted(shop, shop_policy, dispatcher):
    shop_policy({"ticket_reference": {"patterns": [r"CS-\d{5}"], "example": "CS-10001",
                                      "bare_numbers": False}})
    form = ValidateTicketStatusForm()
    assert form.validate_ticket_id("cs-12345", dispatcher, tracker(), {}) == {
        "ticket_id": "CS-12345"}
    assert dispatcher.messages == []
    # Written in no format of this shop: explained with the shop's example, not the demo's.
    assert form.validate_ticket_id("T-1026", dispatcher, tracker(), {}) == {"ticket_id": None}
    assert [(m["response"], m["example"]) for m in dispatcher.messages] == [
        ("utter_ticket_id_format", "CS-10001")]


@pytest.mark.parametrize("typed, stored", [("T-1026", "T-1026"), ("t1026", "T-1026"),
                                           ("#5532", "T-5532"), ("5532", "T-5532"),
                                           ("hello", None), ("A1234", None)])
def test_the_default_format_and_bare_numbers(shop, dispatcher, typed, stored):
    result = ValidateTicketStatusForm().validate_ticket_id(typed, dispatcher, tracker(), {})
    assert result == {"ticket_id": stored}


def _open(session, customer_id: int, subject: str, *, days_ago: int, updated_days_ago: int):
    ticket = tickets.open(session, subject=subject, customer_id=customer_id)
    ticket.created_at = utcnow() - timedelta(days=days_ago)
    ticket.updated_at = utcnow() - timedelta(days=updated_days_ago)
    return ticket


async def test_my_complaint_answers_the_latest_ticket_and_counts_the_other_open_ones(
        shop, dispatcher):
    with session_scope() as session:
        old = _open(session, shop["jane"], "Broken zip", days_ago=20, updated_days_ago=19)
        done = _open(session, shop["jane"], "Late parcel", days_ago=15, updated_days_ago=14)
        tickets.resolve(session, ticket_id=done.id, resolution="Refunded the postage.",
                        actor="staff")
        done.updated_at = utcnow() - timedelta(days=14)
        # Opened earlier, but answered by the team yesterday: the latest news.
        latest = _open(session, shop["jane"], "Wrong size sent", days_ago=10, updated_days_ago=1)
        newer = _open(session, shop["jane"], "Scratched lens", days_ago=5, updated_days_ago=5)
        refs = {t.subject: t.reference for t in (old, done, latest, newer)}
    t = tracker(slots={"customer_id": str(shop["jane"])},
                text="what's the status of my complaint?", intent="ticket_status")
    await ActionTicketStatus().run(dispatcher, t, {})
    [text] = said(dispatcher)
    first, *rest = text.split("\n")
    assert first.startswith(f"Your latest request is {refs['Wrong size sent']} “Wrong size sent”")
    assert rest == [f"You also have 2 other open requests ({refs['Scratched lens']}, "
                    f"{refs['Broken zip']}). Ask me about one by its reference for its status."]
    assert refs["Late parcel"] not in text  # resolved and not the latest: not listed


async def test_one_ticket_is_described_plainly(shop, dispatcher):
    with session_scope() as session:
        ref = _open(session, shop["john"], "Kettle leaks", days_ago=2, updated_days_ago=2).reference
    await ActionTicketStatus().run(dispatcher, tracker(
        slots={"customer_id": str(shop["john"])}, text="my ticket?", intent="ticket_status"), {})
    assert said(dispatcher) == [said(dispatcher)[0]]
    assert said(dispatcher)[0].startswith(f"{ref} “Kettle leaks”: open")


async def test_an_unverified_chat_is_asked_for_the_reference_and_the_email(shop, dispatcher):
    slots = await ValidateTicketStatusForm().required_slots(
        [], dispatcher, tracker(text="status of my complaint", intent="ticket_status"), {})
    assert slots == ["ticket_id", "email"]
