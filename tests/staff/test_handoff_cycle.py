"""The whole handoff cycle through the real gateway, the real Rasa with the trained model and
the real action server: a REST customer asks for a person, waits, an agent claims the
conversation, they talk (the bot stays silent and Rasa never sees the customer's words),
the agent resolves it and the assistant asks the customer for a 1-5 rating."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from websockets.sync.client import connect

from crm_store.db import session_scope
from crm_store.models import AuditEntry, Conversation, utcnow
from crm_store.services import customers, identities, tickets
from tests.staff.conftest import ADA, ANNA, BEN, MIA, OPEN_NEXT_STEPS

# Depends on the date or time of day: CI runs it at other moments too (.ci/clock-guard).
pytestmark = pytest.mark.clock

WAIT = 120  # seconds; the first turns of a freshly loaded model can be slow on 2 cores


class RestCustomer:
    def __init__(self, gateway, sender: str) -> None:
        self.base = f"{gateway.url}/webhooks/rest"
        self.sender = sender

    def say(self, text: str) -> list[dict]:
        response = httpx.post(f"{self.base}/webhook", json={"sender": self.sender,
                                                            "message": text}, timeout=WAIT)
        assert response.status_code == 200, response.text
        return response.json()

    def inbox(self) -> list[dict]:
        """Messages that reached the customer outside a reply (agent, rating question)."""
        return httpx.get(f"{self.base}/messages", params={"sender": self.sender},
                         timeout=30).json()

    def wait_for(self, predicate, what: str, timeout: float = 30) -> list[dict]:
        received: list[dict] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received += self.inbox()
            if predicate(received):
                return received
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}; got {received}")


class StaffEvents:
    """The agent console's live feed, read from the staff websocket."""

    def __init__(self, gateway, token: str) -> None:
        url = gateway.url.replace("http", "ws") + "/ws/staff"
        self.ws = connect(url, additional_headers={"Authorization": f"Bearer {token}"})
        assert json.loads(self.ws.recv(timeout=10))["type"] == "hello"

    def wait_for(self, predicate, what: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            except TimeoutError:
                break
            if predicate(event):
                return event
        raise AssertionError(f"no staff event: {what}")

    def close(self) -> None:
        self.ws.close()


def _rasa_user_events(rasa_settings, sender_id: str) -> list[dict]:
    tracker = httpx.get(f"{rasa_settings.rasa_url}/conversations/{sender_id}/tracker",
                        timeout=30).json()
    return [e for e in tracker["events"] if e.get("event") == "user"]


def _rasa_user_texts(rasa_settings, sender_id: str) -> list[str]:
    return [e.get("text") for e in _rasa_user_events(rasa_settings, sender_id)]


def _conversation_id(external_id: str) -> int:
    with session_scope() as session:
        return session.scalar(select(Conversation.id).where(
            Conversation.channel == "rest", Conversation.external_id == external_id))


def _waiting(client, conversation_id: int) -> dict:
    return next(h for h in client.ok("GET", "/api/handoffs", params={"status": "waiting"})
                if h["conversation_id"] == conversation_id)


def _audit_actions(entity_id: int) -> list[str]:
    with session_scope() as session:
        return [a.action for a in session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "conversation",
                                     AuditEntry.entity_id == str(entity_id))
            .order_by(AuditEntry.id))]


@pytest.fixture
def events(gateway, as_staff):
    feeds: list[StaffEvents] = []

    def open_feed(client) -> StaffEvents:
        feed = StaffEvents(gateway, client.token)
        feeds.append(feed)
        return feed

    yield open_feed
    for feed in feeds:
        feed.close()


def test_a_rest_customer_reaches_a_person_and_is_asked_for_a_rating(
        gateway, rasa_settings, as_staff, events):
    anna, ben = as_staff(gateway, ANNA), as_staff(gateway, BEN)
    live = events(anna)
    customer = RestCustomer(gateway, "cycle-rest")
    customer.say("hello")

    # The customer asks in their own words; the dialogue hands over and says what happens.
    said = " ".join(m.get("text", "") for m in customer.say("I want to talk to a human"))
    assert OPEN_NEXT_STEPS in said, said
    requested = live.wait_for(lambda e: e["type"] == "handoff.requested", "the new handoff")
    conversation_id = requested["conversation_id"]
    with session_scope() as session:
        assert session.get(Conversation, conversation_id).mode.value == "human"

    waiting = anna.ok("GET", "/api/handoffs", params={"status": "waiting"})
    [handoff] = [h for h in waiting if h["conversation_id"] == conversation_id]
    assert handoff["status"] == "waiting" and handoff["channel"] == "rest"
    assert handoff["reason"] == "customer asked for a person"
    assert handoff["customer_id"] and handoff["created_at"]

    # The agent sees the whole conversation, the assistant's part included.
    transcript = anna.ok("GET", f"/api/conversations/{conversation_id}")
    senders = [m["sender"] for m in transcript["messages"]]
    assert senders[:2] == ["customer", "bot"] and OPEN_NEXT_STEPS in transcript["messages"][-1]["text"]
    assert transcript["messages"][0]["intent"] == "greet"

    claimed = anna.ok("POST", f"/api/handoffs/{handoff['id']}/claim")
    assert claimed["status"] == "claimed" and claimed["claimed_by"]["name"] == "Anna"
    second = ben.post(f"/api/handoffs/{handoff['id']}/claim")
    assert second.status_code == 409 and "already claimed" in second.json()["detail"]
    assert ben.post(f"/api/conversations/{conversation_id}/messages",
                    json={"text": "Ben here"}).status_code == 409

    # Anna's reply reaches the customer's channel (REST integrations fetch it).
    anna.ok("POST", f"/api/conversations/{conversation_id}/messages",
            json={"text": "Hi, Anna here. How can I help?"})
    got = customer.wait_for(lambda ms: any("Anna here" in m.get("text", "") for m in ms),
                            "the agent's reply")
    assert any(m.get("sender") == "system" and "Anna from our team has joined" in m["text"]
               for m in got)

    # The customer's answer goes to Anna, live, and not to the bot or to Rasa.
    assert customer.say("My parcel arrived broken, order A1178") == []
    event = live.wait_for(lambda e: e["type"] == "message" and e["direction"] == "inbound"
                          and e["conversation_id"] == conversation_id, "the customer's reply")
    assert event["message"]["text"] == "My parcel arrived broken, order A1178"
    assert event["mode"] == "human"
    assert "My parcel arrived broken, order A1178" not in _rasa_user_texts(
        rasa_settings, "rest:cycle-rest")

    # A private note stays with the team.
    anna.ok("POST", f"/api/conversations/{conversation_id}/notes",
            json={"text": "Photo requested; likely courier damage"})
    assert live.wait_for(lambda e: e["type"] == "note", "the note")["note"]["text"] == \
        "Photo requested; likely courier damage"

    resolved = anna.ok("POST", f"/api/handoffs/{handoff['id']}/resolve", json={})
    assert resolved["handoff"]["status"] == "resolved" and resolved["rating_requested"]
    rating = customer.wait_for(lambda ms: any(m.get("buttons") for m in ms),
                               "the rating question")
    question = next(m for m in rating if m.get("buttons"))
    # The dialogue learnt of the resolution in this customer's own conversation.
    assert "EXTERNAL_conversation_resolved" in [
        (e.get("parse_data") or {}).get("intent", {}).get("name")
        for e in _rasa_user_events(rasa_settings, "rest:cycle-rest")]
    assert "rate" in question["text"] and "1" in question["text"] and "5" in question["text"]
    assert len(question["buttons"]) == 5
    everything = [m.get("text", "") for m in got + rating]
    assert not any("courier damage" in t for t in everything)

    # Back with the bot: the customer's rating is understood and stored.
    thanks = customer.say(question["buttons"][0]["payload"])
    assert any("5/5" in m.get("text", "") for m in thanks), thanks
    with session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation.mode.value == "bot" and conversation.satisfaction == 5

    final = anna.ok("GET", f"/api/conversations/{conversation_id}")
    assert final["mode"] == "bot" and final["handoff"]["status"] == "resolved"
    assert [n["text"] for n in final["notes"]] == ["Photo requested; likely courier damage"]
    assert [m["sender"] for m in final["messages"] if m["sender"] == "agent"] == ["agent"]
    actions = _audit_actions(conversation_id)
    for action in ("handoff.request", "conversation.view", "handoff.claim",
                   "conversation.reply", "note.add", "handoff.resolve"):
        assert action in actions, (action, actions)


def test_transfer_hands_the_conversation_to_a_colleague(gateway, as_staff):
    anna, ben, ada = as_staff(gateway, ANNA), as_staff(gateway, BEN), as_staff(gateway, ADA)
    customer = RestCustomer(gateway, "cycle-transfer")
    customer.say("/human")
    handoff = _waiting(anna, _conversation_id("cycle-transfer"))
    anna.ok("POST", f"/api/handoffs/{handoff['id']}/claim")
    staff_list = anna.ok("GET", "/api/staff")
    assert {s["role"] for s in staff_list} == {"agent", "admin"}
    ben_id = next(s["id"] for s in staff_list if s["email"] == BEN.email)
    mia_id = next(s["id"] for s in anna.ok("GET", "/api/staff", params={"role": "marketer"}))
    refused = anna.post(f"/api/handoffs/{handoff['id']}/transfer", json={"staff_id": mia_id})
    assert refused.status_code == 422 and "not an active agent" in refused.json()["detail"]
    moved = anna.ok("POST", f"/api/handoffs/{handoff['id']}/transfer",
                    json={"staff_id": ben_id})
    assert moved["claimed_by"]["name"] == "Ben"
    conversation_id = handoff["conversation_id"]
    assert anna.post(f"/api/conversations/{conversation_id}/messages",
                     json={"text": "still me"}).status_code == 409
    ben.ok("POST", f"/api/conversations/{conversation_id}/messages",
           json={"text": "Ben here, I've taken over."})
    customer.wait_for(lambda ms: any("Ben here" in m.get("text", "") for m in ms),
                      "Ben's reply")
    # An admin may step in on any claimed conversation.
    ada.ok("POST", f"/api/conversations/{conversation_id}/messages",
           json={"text": "Ada, team lead, checking in."})
    ada.ok("POST", f"/api/handoffs/{handoff['id']}/resolve")
    assert "handoff.transfer" in _audit_actions(conversation_id)


def test_urgent_waiting_conversations_come_first(gateway, as_staff):
    anna = as_staff(gateway, ANNA)
    calm, urgent = RestCustomer(gateway, "queue-calm"), RestCustomer(gateway, "queue-urgent")
    calm.say("/human")
    urgent.say("hi")
    with session_scope() as session:
        customer = customers.find_or_create_by_identity(session, channel="rest",
                                                        external_id="queue-urgent")
        tickets.open(session, subject="Charged twice", kind="complaint", category="payment",
                     priority="urgent", customer_id=customer.id)
    urgent.say("/human")
    queue = anna.ok("GET", "/api/handoffs", params={"status": "waiting"})
    order = [h["conversation_id"] for h in queue]
    calm_id, urgent_id = _conversation_id("queue-calm"), _conversation_id("queue-urgent")
    # The urgent customer asked later but comes first.
    assert order.index(urgent_id) < order.index(calm_id), queue
    assert queue[order.index(urgent_id)]["priority"] == "urgent"
    assert queue[order.index(calm_id)]["priority"] == "normal"
    assert queue[order.index(calm_id)]["created_at"] < queue[order.index(urgent_id)]["created_at"]
    for handoff in queue:  # leave the queue empty for other tests
        anna.ok("POST", f"/api/handoffs/{handoff['id']}/claim")
        anna.ok("POST", f"/api/handoffs/{handoff['id']}/resolve")


def test_tickets_list_edit_and_a_resolved_ticket_asks_for_a_rating(gateway, as_staff):
    anna = as_staff(gateway, ANNA)
    customer = RestCustomer(gateway, "ticket-rater")
    customer.say("hello")
    with session_scope() as session:
        owner = identities.get(session, channel="rest", external_id="ticket-rater").customer_id
        conversation_id = session.scalar(select(Conversation.id).where(
            Conversation.external_id == "ticket-rater"))
        late = tickets.open(session, subject="Parcel never came", kind="complaint",
                            category="delivery", priority="high", customer_id=owner,
                            conversation_id=conversation_id,
                            sla_due_at=utcnow() - timedelta(hours=2))
        ticket_id, reference = late.id, late.reference
    breached = anna.ok("GET", "/api/tickets", params={"breached": "true"})
    row = next(t for t in breached if t["id"] == ticket_id)
    assert row["sla_breached"] and row["reference"] == reference
    assert row["customer_name"] and row["assignee"] is None
    assert ticket_id not in [t["id"] for t in anna.ok("GET", "/api/tickets",
                                                      params={"breached": "false"})]
    mine = anna.ok("PATCH", f"/api/tickets/{ticket_id}",
                   json={"assignee_id": anna.ok("GET", "/api/auth/me")["id"],
                         "priority": "urgent"})
    assert mine["assignee"]["name"] == "Anna" and mine["priority"] == "urgent"
    assigned = anna.ok("GET", "/api/tickets", params={"assignee": "me"})
    assert ticket_id in [t["id"] for t in assigned]
    assert {t["assignee"]["name"] for t in assigned} == {"Anna"}
    # Resolving needs a resolution; nothing changes without one.
    refused = anna.patch(f"/api/tickets/{ticket_id}", json={"status": "resolved"})
    assert refused.status_code == 422 and "resolution" in refused.json()["detail"]
    unchanged = anna.patch(f"/api/tickets/{ticket_id}", json={"status": "done"})
    assert unchanged.status_code == 422
    assert anna.patch(f"/api/tickets/{ticket_id}", json={}).status_code == 422
    assert anna.patch(f"/api/tickets/{ticket_id}", json={"priority": None}).status_code == 422
    done = anna.ok("PATCH", f"/api/tickets/{ticket_id}",
                   json={"status": "resolved", "resolution": "Refunded in full"})
    assert done["status"] == "resolved" and done["resolved_at"]
    asked = customer.wait_for(lambda ms: any(reference in m.get("text", "") for m in ms),
                              "the ticket's rating question")
    assert any(m.get("buttons") for m in asked)
    with session_scope() as session:
        actions = [a.action for a in session.scalars(select(AuditEntry).where(
            AuditEntry.entity == "ticket", AuditEntry.entity_id == str(ticket_id)))]
    assert {"ticket.assign", "ticket.priority", "ticket.resolution", "ticket.status"} <= \
        set(actions)


def test_a_marketer_cannot_read_a_transcript_even_with_its_id(gateway, as_staff):
    customer = RestCustomer(gateway, "private-chat")
    customer.say("hello")
    with session_scope() as session:
        conversation = session.scalar(select(Conversation).where(
            Conversation.external_id == "private-chat"))
    mia = as_staff(gateway, MIA)
    for path in (f"/api/conversations/{conversation.id}",
                 f"/api/customers/{conversation.customer_id}"):
        response = mia.get(path)
        assert response.status_code == 403 and "hello" not in response.text


def test_a_web_widget_customer_gets_the_agents_reply_live(gateway, as_staff):
    """The widget's "Talk to a person" button, then the agent's answer on the same socket."""
    anna = as_staff(gateway, ANNA)
    with connect(gateway.url.replace("http", "ws") + "/ws/chat") as chat:
        chat.send(json.dumps({"type": "hello", "session": None}))
        welcome = json.loads(chat.recv(timeout=30))
        assert welcome["type"] == "welcome"

        def next_message(predicate, what: str) -> dict:
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                frame = json.loads(chat.recv(timeout=WAIT))
                if frame.get("type") == "message" and predicate(frame):
                    return frame
            raise AssertionError(f"the widget never got {what}")

        chat.send(json.dumps({"type": "message", "client_id": "w1",
                              "text": "Talk to a person", "payload": "/human_handoff"}))
        next_message(lambda f: f["sender"] == "bot" and OPEN_NEXT_STEPS in f["text"],
                     "the next steps")
        with session_scope() as session:
            conversation_id = session.scalar(select(Conversation.id).where(
                Conversation.channel == "web", Conversation.external_id == welcome["session"]))
        handoff = next(h for h in anna.ok("GET", "/api/handoffs")
                       if h["conversation_id"] == conversation_id)
        anna.ok("POST", f"/api/handoffs/{handoff['id']}/claim")
        anna.ok("POST", f"/api/conversations/{conversation_id}/messages",
                json={"text": "Hello from Anna on the website"})
        reply = next_message(lambda f: f["sender"] == "agent", "the agent's reply")
        assert reply["text"] == "Hello from Anna on the website"
        anna.ok("POST", f"/api/handoffs/{handoff['id']}/resolve")
        question = next_message(lambda f: f["sender"] == "bot" and f.get("buttons"),
                                "the rating question")
        assert "How would you rate" in question["text"]
