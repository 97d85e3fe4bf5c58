"""What the customer sees of what staff did (issue 20): a resolved ticket's resolution, on the
channel the customer last used and before the rating question; a transfer to another agent.

Through the real gateway; the dialogue is a small stand-in for Rasa's HTTP API that answers
`trigger_intent` with a rating question and remembers what it was told (the real rating
question is the dialogue's own: tests/staff/test_handoff_cycle.py)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import httpx
import pytest

from crm_store.db import session_scope
from crm_store.models import ConversationMode, utcnow
from crm_store.services import conversations, handoffs, identities, staff, tickets
from tests.conftest import free_port
from tests.staff.conftest import ANNA, BEN, PASSWORD, Account, gateway_settings
from tests.support.gateway_server import GatewayServer

QUIET = Account("quiet.agent@shop.example", "agent", "")


class FakeDialogue:
    """Rasa's `trigger_intent`, answered with a rating question; `told` keeps (sender,
    intent, entities) in the order they came."""

    def __init__(self) -> None:
        self.told: list[tuple[str, str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _answer(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self._answer(200, {"version": "fake"})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"] or 0))
                                  or b"{}")
                path = self.path.split("?", 1)[0]
                if not (path.startswith("/conversations/") and path.endswith("/trigger_intent")):
                    self._answer(404, {})
                    return
                sender = unquote(path.removeprefix("/conversations/")
                                 .removesuffix("/trigger_intent"))
                entities = body.get("entities") or {}
                outer.told.append((sender, body.get("name"), entities))
                what = entities.get("ticket_id", "the help you got")
                self._answer(200, {"messages": [{
                    "recipient_id": sender,
                    "text": f"How would you rate how we handled {what}, from 1 to 5?",
                    "buttons": [{"title": str(n), "payload": f'/rate{{"rating": "{n}"}}'}
                                for n in range(5, 0, -1)]}]})

        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeDialogue:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def dialogue():
    fake = FakeDialogue().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def console_gateway(store_url, dialogue, tmp_path_factory):
    server = GatewayServer(gateway_settings(store_url, tmp_path_factory.mktemp("gw"),
                                            rasa_port=dialogue.port)).start()
    yield server
    server.stop()


def _messages(client, conversation_id: int) -> list[dict]:
    return client.ok("GET", f"/api/conversations/{conversation_id}")["messages"]


def _customer_on_two_channels(name: str) -> tuple[int, int, int]:
    """A customer who wrote on the web widget first and by REST later: (customer, web
    conversation, REST conversation)."""
    with session_scope() as session:
        web = conversations.get_or_start(session, channel="web", external_id=f"{name}-web")
        identities.link(session, customer_id=web.customer_id, channel="rest",
                        external_id=f"{name}-rest")
        rest = conversations.get_or_start(session, channel="rest", external_id=f"{name}-rest")
        assert rest.customer_id == web.customer_id
        now = utcnow()
        web.last_message_at = now - timedelta(days=2)
        rest.last_message_at = now - timedelta(minutes=5)
        return web.customer_id, web.id, rest.id


def _ticket(customer_id: int, conversation_id: int, subject: str) -> tuple[int, str]:
    with session_scope() as session:
        ticket = tickets.open(session, subject=subject, kind="complaint", category="delivery",
                              customer_id=customer_id, conversation_id=conversation_id,
                              channel="web")
        return ticket.id, ticket.reference


def test_a_resolved_ticket_tells_the_customer_how_on_the_channel_they_last_used(
        console_gateway, dialogue, as_staff):
    customer_id, web_id, rest_id = _customer_on_two_channels("resolved-news")
    ticket_id, reference = _ticket(customer_id, web_id, "Parcel arrived broken")
    anna = as_staff(console_gateway, ANNA)
    web_before = len(_messages(anna, web_id))

    anna.ok("PATCH", f"/api/tickets/{ticket_id}",
            json={"status": "resolved", "resolution": "We sent a replacement by courier."})

    said = [(m["sender"], m["text"]) for m in _messages(anna, rest_id)]
    news = f"Your ticket {reference} is resolved.\nResolution: We sent a replacement by courier."
    rating = f"How would you rate how we handled {reference}, from 1 to 5?"
    # The resolution first, then the rating question, both where the customer is now.
    assert said == [("system", news), ("bot", rating)]
    assert dialogue.told[-1] == ("rest:resolved-news-rest", "EXTERNAL_ticket_resolved",
                                 {"ticket_id": reference})
    # Nothing goes to the older web conversation the ticket came from.
    assert len(_messages(anna, web_id)) == web_before
    # The REST integration fetches both, in that order.
    fetched = httpx.get(f"{console_gateway.url}/webhooks/rest/messages",
                        params={"sender": "resolved-news-rest"}, timeout=30).json()
    assert [m["text"] for m in fetched] == [news, rating]

    # Editing the resolved ticket again tells the customer nothing more.
    anna.ok("PATCH", f"/api/tickets/{ticket_id}", json={"priority": "low"})
    assert len(_messages(anna, rest_id)) == 2


def test_a_ticket_resolved_while_a_person_is_talking_still_tells_the_resolution(
        console_gateway, dialogue, as_staff):
    customer_id, web_id, rest_id = _customer_on_two_channels("resolved-human")
    ticket_id, reference = _ticket(customer_id, web_id, "Refund missing")
    with session_scope() as session:
        conversations.set_mode(session, conversation_id=rest_id, mode=ConversationMode.HUMAN)
    told_before = len(dialogue.told)
    anna = as_staff(console_gateway, ANNA)

    anna.ok("PATCH", f"/api/tickets/{ticket_id}",
            json={"status": "resolved", "resolution": "Refund re-sent to your card."})

    assert [(m["sender"], m["text"]) for m in _messages(anna, rest_id)] == [
        ("system", f"Your ticket {reference} is resolved.\nResolution: Refund re-sent to your "
                   "card.")]
    # The assistant stays quiet while a person has the conversation: no rating question.
    assert len(dialogue.told) == told_before


def _claimed_by_anna(client, external_id: str) -> tuple[int, int]:
    with session_scope() as session:
        conversation = conversations.get_or_start(session, channel="rest",
                                                  external_id=external_id)
        handoff = handoffs.hand_over(session, conversation_id=conversation.id,
                                     reason="customer asked for a person")
        conversation_id, handoff_id = conversation.id, handoff.id
    client.ok("POST", f"/api/handoffs/{handoff_id}/claim")
    return conversation_id, handoff_id


def _staff_id(client, email: str) -> int:
    return next(s["id"] for s in client.ok("GET", "/api/staff") if s["email"] == email)


def test_a_transfer_tells_the_customer_who_continues(console_gateway, as_staff):
    anna = as_staff(console_gateway, ANNA)
    conversation_id, handoff_id = _claimed_by_anna(anna, "transfer-named")

    anna.ok("POST", f"/api/handoffs/{handoff_id}/transfer",
            json={"staff_id": _staff_id(anna, BEN.email)})

    ben = as_staff(console_gateway, BEN)
    system = [m["text"] for m in _messages(ben, conversation_id) if m["sender"] == "system"]
    assert system == ["Anna from our team has joined the conversation.",
                      "I've passed your conversation to Ben, who will continue from here."]


def test_a_transfer_to_an_agent_without_a_display_name_says_a_colleague(console_gateway,
                                                                          as_staff):
    with session_scope() as session:
        staff.create_user(session, email=QUIET.email, password=PASSWORD, role="agent")
    anna = as_staff(console_gateway, ANNA)
    conversation_id, handoff_id = _claimed_by_anna(anna, "transfer-nameless")

    anna.ok("POST", f"/api/handoffs/{handoff_id}/transfer",
            json={"staff_id": _staff_id(anna, QUIET.email)})

    notice = [m["text"] for m in _messages(anna, conversation_id) if m["sender"] == "system"][-1]
    assert notice == "I've passed your conversation to a colleague, who will continue from here."
    assert "quiet" not in notice


def test_a_refused_transfer_tells_the_customer_nothing(console_gateway, as_staff):
    anna = as_staff(console_gateway, ANNA)
    conversation_id, handoff_id = _claimed_by_anna(anna, "transfer-refused")
    before = _messages(anna, conversation_id)

    refused = anna.post(f"/api/handoffs/{handoff_id}/transfer",
                        json={"staff_id": _staff_id(anna, ANNA.email)})

    assert refused.status_code == 422
    assert _messages(anna, conversation_id) == before
