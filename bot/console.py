"""What staff do in the agent console, with everything that follows from it: the store is
changed (bot/console_store.py), the customer hears about it on their channel (the gateway's
outbound path: who joined, who took over, how their ticket was resolved), other staff see it
live (StaffBus), and the dialogue is told (Rasa's `trigger_intent`) so the assistant asks for
a rating once a person is done.
"""

from __future__ import annotations

import logging
from typing import Any

from bot import console_store as cs
from bot import store
from bot.auth import Staff
from bot.gateway import Gateway
from bot.rasa_client import RasaClient
from bot.schemas import (
    AgentPublic,
    HandoffPublic,
    MessagePublic,
    NotePublic,
    ResolvedPublic,
    TicketPublic,
)
from bot.staff_bus import StaffBus
from bot.store import ConversationRef
from crm_store.errors import InvalidInput
from kefu_config.handoff import back_in_queue_text, joined_text, transferred_text

logger = logging.getLogger(__name__)

CONVERSATION_RESOLVED = "EXTERNAL_conversation_resolved"
TICKET_RESOLVED = "EXTERNAL_ticket_resolved"


def ticket_resolved_text(reference: str, resolution: str) -> str:
    """What the customer is told when staff resolve their ticket: which one, and how."""
    return f"Your ticket {reference} is resolved.\nResolution: {resolution}"


def actor(staff: Staff) -> cs.Actor:
    return cs.Actor(staff.id, staff.role)


class AgentConsole:
    def __init__(self, gateway: Gateway, rasa: RasaClient, bus: StaffBus) -> None:
        self.gateway = gateway
        self.rasa = rasa
        self.bus = bus

    async def claim(self, staff: Staff, handoff_id: int) -> HandoffPublic:
        handoff, conversation = await store.run(cs.claim(handoff_id, actor(staff)))
        await self.bus.publish({"type": "handoff.claimed", "handoff_id": handoff.id,
                                "conversation_id": handoff.conversation_id,
                                "staff_id": staff.id})
        # The customer learns a person is there now (not only "in the queue").
        await self.gateway.deliver(conversation_id=conversation.id, sender="system",
                                   text=joined_text(staff.name))
        return handoff

    async def reply(self, staff: Staff, conversation_id: int, text: str) -> MessagePublic:
        await store.run(cs.held_conversation(conversation_id, actor(staff)))
        message = await self.gateway.deliver(conversation_id=conversation_id, text=text,
                                             sender="agent", staff_id=staff.id)
        await store.run(cs.record(actor(staff), "conversation.reply", "conversation",
                                  conversation_id, {"message_id": message.id}))
        data = message.to_json()
        return MessagePublic(id=message.id, direction="outbound", sender="agent",
                             text=data["text"], at=message.created_at, status=message.status,
                             staff_id=staff.id)

    async def note(self, staff: Staff, conversation_id: int, text: str) -> NotePublic:
        note = await store.run(cs.add_note(conversation_id, actor(staff), text))
        await self.bus.publish({"type": "note", "conversation_id": conversation_id,
                                "note": note.model_dump(mode="json")})
        return note

    async def transfer(self, staff: Staff, handoff_id: int, to_staff_id: int) -> HandoffPublic:
        handoff, name = await store.run(cs.transfer(handoff_id, actor(staff), to_staff_id))
        await self.bus.publish({"type": "handoff.transferred", "handoff_id": handoff.id,
                                "conversation_id": handoff.conversation_id,
                                "from_staff_id": staff.id, "staff_id": to_staff_id})
        # The customer learns someone else is answering now, and need not start again.
        await self.gateway.deliver(conversation_id=handoff.conversation_id, sender="system",
                                   text=transferred_text(name))
        return handoff

    async def resolve(self, staff: Staff, handoff_id: int, note: str | None) -> ResolvedPublic:
        handoff, conversation = await store.run(cs.resolve(handoff_id, actor(staff), note))
        await self.bus.publish({"type": "conversation.mode",
                                "conversation_id": conversation.id, "mode": conversation.mode})
        await self.bus.publish({"type": "handoff.resolved", "handoff_id": handoff.id,
                                "conversation_id": conversation.id, "staff_id": staff.id})
        asked = await self._tell_dialogue(conversation, CONVERSATION_RESOLVED)
        # The agent has room again: the queue's next conversation may go to them.
        await self.gateway.assign_waiting()
        return ResolvedPublic(handoff=handoff, rating_requested=asked)

    async def set_availability(self, staff: Staff, status: str) -> AgentPublic:
        """Online: waiting conversations come to the agent (automatic assignment). Away: none
        do, and the ones they hold go to colleagues with room or back to the queue; every
        customer concerned hears what happened, nothing more."""
        change = await store.run(cs.set_availability(actor(staff), status,
                                                     self.gateway.agent_capacity))
        await self.bus.publish({"type": "agents.changed", "staff_id": staff.id,
                                "status": change.agent.status})
        await self._after(change)
        return change.agent

    async def set_capacity(self, staff: Staff, staff_id: int,
                           capacity: int | None) -> AgentPublic:
        change = await store.run(cs.set_capacity(staff_id, actor(staff), capacity,
                                                 self.gateway.agent_capacity))
        await self.bus.publish({"type": "agents.changed", "staff_id": staff_id})
        await self._after(change)
        return change.agent

    async def _after(self, change: cs.AvailabilityChange) -> None:
        for item in change.requeued:
            await self.bus.publish({"type": "handoff.released", "handoff_id": item.handoff_id,
                                    "conversation_id": item.conversation_id})
            await self.gateway.deliver(conversation_id=item.conversation_id, sender="system",
                                       text=back_in_queue_text(item.position,
                                                               item.wait_minutes))
        await self.gateway.announce_assignments(change.given)

    async def ticket_updated(self, staff: Staff, ticket: TicketPublic,
                             newly_resolved: bool) -> None:
        await self.bus.publish({"type": "ticket.updated", "ticket_id": ticket.id,
                                "staff_id": staff.id})
        if not newly_resolved:
            return
        news = await store.run(cs.ticket_conversation(ticket.id))
        if news is None or news.conversation is None:
            return
        conversation = news.conversation
        # First what was done (whoever has the conversation now: it is the customer's answer),
        # then, from the assistant, the rating question.
        if news.resolution:
            await self.gateway.deliver(conversation_id=conversation.id, sender="system",
                                       text=ticket_resolved_text(news.reference,
                                                                 news.resolution))
        if conversation.human:
            # A person is talking with the customer right now; the assistant must not butt in.
            logger.info("ticket %s resolved during a human conversation; no rating asked",
                        news.reference)
            return
        await self._tell_dialogue(conversation, TICKET_RESOLVED, {"ticket_id": news.reference})

    async def _tell_dialogue(self, conversation: ConversationRef, intent: str,
                             entities: dict[str, Any] | None = None) -> bool:
        """Trigger the intent and deliver what the assistant says on the customer's channel."""
        reply = await self.rasa.trigger_intent(conversation.sender_id, intent, entities)
        if not reply.ok:
            logger.warning("could not tell the assistant %s for conversation %s", intent,
                           conversation.id)
            return False
        said = False
        for raw in reply.messages:
            custom = raw.get("custom") if isinstance(raw.get("custom"), dict) else {}
            products = custom.get("products") if custom.get("type") == "products" else None
            try:
                await self.gateway.deliver(conversation_id=conversation.id, sender="bot",
                                           text=raw.get("text") or "",
                                           buttons=raw.get("buttons") or None,
                                           products=products)
                said = True
            except InvalidInput:  # an empty message (a signal only): nothing to say
                continue
        return said
