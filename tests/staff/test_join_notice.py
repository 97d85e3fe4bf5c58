"""What the customer is told when a person takes their conversation over, for an agent with a
display name and for one without (no Rasa needed: the handoff is put in the store)."""

from __future__ import annotations

from crm_store.db import session_scope
from crm_store.models import ConversationMode
from crm_store.services import conversations, handoffs, staff
from tests.staff.conftest import ANNA, PASSWORD, Account

NAMELESS = Account("noname@shop.example", "agent", "")


def _waiting_handoff(external_id: str) -> tuple[int, int]:
    with session_scope() as session:
        conversation = conversations.get_or_start(session, channel="rest",
                                                  external_id=external_id)
        handoff = handoffs.request(session, conversation_id=conversation.id,
                                   reason="customer asked for a person")
        handoffs.mark_waiting(session, handoff_id=handoff.id)
        conversations.set_mode(session, conversation_id=conversation.id,
                               mode=ConversationMode.HUMAN)
        return conversation.id, handoff.id


def _system_messages(client, conversation_id: int) -> list[str]:
    transcript = client.ok("GET", f"/api/conversations/{conversation_id}")
    return [m["text"] for m in transcript["messages"] if m["sender"] == "system"]


def test_the_customer_hears_the_agents_name_when_they_join(api_gateway, as_staff):
    conversation_id, handoff_id = _waiting_handoff("join-named")
    anna = as_staff(api_gateway, ANNA)
    anna.ok("POST", f"/api/handoffs/{handoff_id}/claim")
    assert _system_messages(anna, conversation_id) == [
        "Anna from our team has joined the conversation."]


def test_an_agent_without_a_display_name_joins_as_a_member_of_the_team(api_gateway, as_staff):
    with session_scope() as session:
        staff.create_user(session, email=NAMELESS.email, password=PASSWORD, role="agent")
    conversation_id, handoff_id = _waiting_handoff("join-nameless")
    agent = as_staff(api_gateway, NAMELESS)
    agent.ok("POST", f"/api/handoffs/{handoff_id}/claim")
    [notice] = _system_messages(agent, conversation_id)
    assert notice == "A member of our team has joined the conversation."
    assert "from our team" not in notice and "noname" not in notice
