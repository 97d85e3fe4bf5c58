"""What a customer is told when their conversation goes to a person.

The same words whichever part hands over: the dialogue's action_handoff (actions/handoff.py)
or the gateway itself when `/human` reaches a dialogue that cannot answer (bot/store.py).
"""

from __future__ import annotations

from datetime import datetime

from kefu_config import clock
from kefu_config.policy import load_policy


def next_steps_text(position: int, now: datetime | None = None) -> str:
    """Their place in the queue while staff are at work; otherwise when staff are back."""
    policy = load_policy()
    now = now or clock.now()
    if policy.is_open(now):
        ahead = ("You're next in line." if position <= 1
                 else f"You're number {position} in the queue.")
        return (f"I'm connecting you with a member of our team. {ahead} They'll see this "
                "whole conversation, so you won't need to repeat anything. I'll stay quiet "
                "until they're done.")
    opens = policy.next_opening(now)
    return (f"Our team is offline right now; they're back {opens:%A at %H:%M} "
            f"({policy.shop.timezone}). Your conversation is in their queue and will be answered "
            "then — you'll get the reply right here. You can keep writing; nothing is lost.")
