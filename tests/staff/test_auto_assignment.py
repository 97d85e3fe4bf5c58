"""Automatic assignment through the real gateway, its REST channel and the staff API (no Rasa
needed: `/human` reaches a person even when the dialogue cannot answer): a customer who asks
for a person goes to the least-loaded online agent and hears who joined; with every agent
full they hear their place in the queue and the measured wait, and a person joins when one
frees up; an agent who goes away hands their conversations on, and the customer is told
what happened; admins see who has what, nobody else does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm_store.db import session_scope
from crm_store.models import StaffUser
from crm_store.services import conversations, handoffs
from kefu_config import clock
from tests.clock.moments import london
from tests.staff.conftest import ADA, ANNA, BEN, MIA, everyone_away_and_nothing_waiting
from tests.staff.test_reply_email import RestCustomer, _conversation_id

pytestmark = pytest.mark.clock

TUESDAY_MORNING = london(2026, 12, 1, 10, 0)  # the team is at work (policy/shop.yml)


@pytest.fixture
def team(api_gateway, as_staff, shop_clock):
    """Anna, Ben and Ada signed in, everyone away and nobody waiting at the start (the staff
    tests share one store); everyone away and every handoff resolved at the end, so that no
    later test finds an agent online."""
    shop_clock(TUESDAY_MORNING)
    everyone_away_and_nothing_waiting()
    clients = {account.name: as_staff(api_gateway, account) for account in (ANNA, BEN, ADA)}
    yield clients
    everyone_away_and_nothing_waiting()


def _staff_id(email: str) -> int:
    with session_scope() as session:
        return session.scalar(select(StaffUser.id).where(StaffUser.email == email))


def _handoff(conversation_id: int) -> dict:
    with session_scope() as session:
        handoff = handoffs.active_for(session, conversation_id=conversation_id)
        return {"id": handoff.id, "status": handoff.status.value,
                "holder": handoff.claimed_by_id}


def _system(client, conversation_id: int) -> list[str]:
    transcript = client.ok("GET", f"/api/conversations/{conversation_id}")
    return [m["text"] for m in transcript["messages"] if m["sender"] == "system"]


def _ask_for_a_person(gateway, sender: str) -> tuple[int, str]:
    [next_steps] = RestCustomer(gateway, sender).say("/human")
    return _conversation_id(sender), next_steps


def _measured_waits(minutes: float, count: int = 20) -> None:
    """Recent customers who had to queue waited `minutes` each for a person."""
    now = clock.now()
    anna = _staff_id(ANNA.email)
    with session_scope() as session:
        for n in range(count):
            conversation = conversations.get_or_start(session, channel="rest",
                                                      external_id=f"measured-{now:%H%M%S}-{n}")
            handoff = handoffs.hand_over(session, conversation_id=conversation.id,
                                         reason="asked")
            handoffs.claim(session, handoff_id=handoff.id, staff_id=anna)
            handoff.claimed_at = now - timedelta(seconds=n + 1)
            handoff.requested_at = handoff.claimed_at - timedelta(minutes=minutes)
            handoffs.resolve(session, handoff_id=handoff.id, staff_id=anna)


def test_a_customer_goes_to_the_least_loaded_online_agent_and_hears_who_joined(
        api_gateway, team, as_staff):
    anna, ben, ada = team["Anna"], team["Ben"], team["Ada"]
    me = anna.ok("PUT", "/api/agents/me", json={"status": "online"})
    assert me["status"] == "online" and me["open"] == 0 and me["capacity"] == 5

    first, next_steps = _ask_for_a_person(api_gateway, "auto-first")
    # Anna has room: no wait is promised, and she joins at once.
    assert "You're next in line." in next_steps and "wait is" not in next_steps
    assert _handoff(first) == {"id": _handoff(first)["id"], "status": "claimed",
                               "holder": _staff_id(ANNA.email)}
    assert _system(anna, first) == ["Anna from our team has joined the conversation."]
    [mine] = anna.ok("GET", "/api/handoffs?status=claimed")
    assert mine["conversation_id"] == first and mine["claimed_by"]["name"] == "Anna"

    # Ben is away: he gets nothing, however loaded Anna is.
    second, _ = _ask_for_a_person(api_gateway, "auto-second")
    assert _handoff(second)["holder"] == _staff_id(ANNA.email)
    # Ben comes online: the next customer goes to him, the least loaded.
    ben.ok("PUT", "/api/agents/me", json={"status": "online"})
    third, _ = _ask_for_a_person(api_gateway, "auto-third")
    assert _handoff(third)["holder"] == _staff_id(BEN.email)
    assert _system(ben, third) == ["Ben from our team has joined the conversation."]

    # The admin sees who is online and what each holds.
    load = {a["email"]: (a["status"], a["open"], a["capacity"])
            for a in ada.ok("GET", "/api/agents")}
    assert load[ANNA.email] == ("online", 2, 5) and load[BEN.email] == ("online", 1, 5)
    assert load[ADA.email] == ("away", 0, 5) and MIA.email not in load
    # Nobody else does; a marketer has no status at all.
    assert anna.get("/api/agents").status_code == 403
    mia = as_staff(api_gateway, MIA)
    assert mia.get("/api/agents").status_code == 403
    assert mia.http.put("/api/agents/me", json={"status": "online"}).status_code == 403
    assert anna.http.put(f"/api/agents/{_staff_id(BEN.email)}/capacity",
                         json={"capacity": 9}).status_code == 403


def test_with_every_agent_full_the_customer_hears_the_wait_and_a_person_joins_later(
        api_gateway, team):
    anna, ada = team["Anna"], team["Ada"]
    ada.ok("PUT", f"/api/agents/{_staff_id(ANNA.email)}/capacity", json={"capacity": 1})
    anna.ok("PUT", "/api/agents/me", json={"status": "online"})
    held, _ = _ask_for_a_person(api_gateway, "full-held")
    assert _handoff(held)["holder"] == _staff_id(ANNA.email)

    # Nothing measured yet: only the place in the queue, no time.
    waiting, next_steps = _ask_for_a_person(api_gateway, "full-waiting")
    assert "You're next in line." in next_steps and "minute" not in next_steps
    assert _handoff(waiting)["status"] == "waiting" and _system(anna, waiting) == []
    # Recent customers who queued waited about 3 minutes: the next one hears it, by place.
    _measured_waits(3)
    later, next_steps = _ask_for_a_person(api_gateway, "full-later")
    assert "You're number 2 in the queue; the wait is about 6 minutes." in next_steps

    # Anna finishes with the first customer: the one waiting longest is hers now.
    anna.ok("POST", f"/api/handoffs/{_handoff(held)['id']}/resolve", json={})
    assert _handoff(waiting)["holder"] == _staff_id(ANNA.email)
    assert _system(anna, waiting) == ["Anna from our team has joined the conversation."]
    assert _handoff(later)["status"] == "waiting"
    [agent] = [a for a in ada.ok("GET", "/api/agents") if a["email"] == ANNA.email]
    assert (agent["open"], agent["capacity"], agent["own_capacity"]) == (1, 1, 1)


def test_an_agent_going_away_hands_their_conversations_on(api_gateway, team):
    anna, ben = team["Anna"], team["Ben"]
    anna.ok("PUT", "/api/agents/me", json={"status": "online"})
    kept, _ = _ask_for_a_person(api_gateway, "away-one")
    assert _handoff(kept)["holder"] == _staff_id(ANNA.email)

    # Nobody else online: back to the queue, and the customer is told so (no one "joined").
    me = anna.ok("PUT", "/api/agents/me", json={"status": "away"})
    assert me["status"] == "away" and me["open"] == 0
    assert _handoff(kept)["status"] == "waiting"
    notices = _system(anna, kept)
    assert notices[0] == "Anna from our team has joined the conversation."
    assert notices[1].startswith("The person who was helping you has had to step away")
    assert "You're next in line" in notices[1] and len(notices) == 2

    # Ben comes online and takes it; the customer hears it passed to him.
    ben.ok("PUT", "/api/agents/me", json={"status": "online"})
    assert _handoff(kept)["holder"] == _staff_id(BEN.email)
    assert _system(ben, kept)[2] == ("I've passed your conversation to Ben, who will "
                                     "continue from here.")
    # Ben going away with Anna online again: she takes it straight back, no queue.
    anna.ok("PUT", "/api/agents/me", json={"status": "online"})
    ben.ok("PUT", "/api/agents/me", json={"status": "away"})
    assert _handoff(kept)["holder"] == _staff_id(ANNA.email)
    assert _system(anna, kept)[3:] == ["I've passed your conversation to Anna, who will "
                                       "continue from here."]


def test_a_bad_status_or_capacity_is_refused_with_a_reason(api_gateway, team):
    anna, ada = team["Anna"], team["Ada"]
    assert anna.http.put("/api/agents/me", json={"status": "busy"}).status_code == 422
    assert ada.http.put(f"/api/agents/{_staff_id(ANNA.email)}/capacity",
                        json={"capacity": 0}).status_code == 422
    response = ada.http.put(f"/api/agents/{_staff_id(MIA.email)}/capacity",
                            json={"capacity": 3})
    assert response.status_code == 422 and "not an active agent" in response.text
    assert ada.http.put("/api/agents/987654/capacity",
                        json={"capacity": 3}).status_code == 404
