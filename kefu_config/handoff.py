"""What a customer is told when their conversation goes to a person, and as it passes from
one person to another.

The same words whichever part hands over: the dialogue's action_handoff (actions/handoff.py)
or the gateway itself when `/human` reaches a dialogue that cannot answer (bot/store.py). The
agent console (bot/console.py) tells the customer who joined and who took over.
"""

from __future__ import annotations

from datetime import datetime

from kefu_config import clock
from kefu_config.policy import load_policy

# Offered only while the team is offline: the customer may not be in the chat when staff answer.
# The gateway records an address typed while the handoff waits (crm_store.services.handoffs).
EMAIL_OFFER = "If you'd like the answer by email as well, just type your email address here."


def place_text(position: int, wait_minutes: int | None = None) -> str:
    """The customer's place in the queue, with the wait when it was measured
    (crm_store.services.assignment.wait_minutes); never a time that was not."""
    ahead = ("You're next in line" if position <= 1
             else f"You're number {position} in the queue")
    if wait_minutes is None:
        return f"{ahead}."
    wait = "about a minute" if wait_minutes <= 1 else f"about {wait_minutes} minutes"
    return f"{ahead}; the wait is {wait}."


def next_steps_text(position: int, now: datetime | None = None,
                    wait_minutes: int | None = None) -> str:
    """Their place in the queue (and the measured wait) while staff are at work; otherwise
    when staff are back."""
    policy = load_policy()
    now = now or clock.now()
    if policy.is_open(now):
        ahead = place_text(position, wait_minutes)
        return (f"I'm connecting you with a member of our team. {ahead} They'll see this "
                "whole conversation, so you won't need to repeat anything. I'll stay quiet "
                "until they're done.")
    opens = policy.next_opening(now)
    return (f"Our team is offline right now; they're back {opens:%A at %H:%M} "
            f"({policy.shop.timezone}). Your conversation is in their queue and will be answered "
            "then — you'll get the reply right here. You can keep writing; nothing is lost. "
            f"{EMAIL_OFFER}")


def back_in_queue_text(position: int, wait_minutes: int | None = None) -> str:
    """The person helping the customer went away and nobody else is free yet: the
    conversation waits for the next one (nothing said is lost)."""
    return ("The person who was helping you has had to step away, so your conversation is "
            f"back in our team's queue. {place_text(position, wait_minutes)} Whoever picks it "
            "up will see everything so far, so you won't need to repeat anything.")


def masked_email(email: str) -> str:
    """An address as the chat may show it (a shared screen): the local part's first letter,
    then ***: "jane.doe@example.com" -> "j***@example.com"."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else email


def reply_email_text(email: str) -> str:
    """What the customer is told when the address they typed is noted for the answer."""
    return (f"Thanks — our team will send their answer to {masked_email(email)} as well as "
            "here.")


def staff_name(name: str | None) -> str | None:
    """The name a customer may be told for a member of staff: their display name, or None
    when they have none (never the email address or anything made from it)."""
    return (name or "").strip() or None


def joined_text(name: str | None) -> str:
    """A person took the conversation over: by name when staff have one, otherwise simply
    that someone from the team is there."""
    name = staff_name(name)
    if name:
        return f"{name} from our team has joined the conversation."
    return "A member of our team has joined the conversation."


def transferred_text(name: str | None) -> str:
    """The conversation passed to another person, named the same way as when one joins."""
    return (f"I've passed your conversation to {staff_name(name) or 'a colleague'}, who will "
            "continue from here.")
