"""A button's label typed instead of tapped counts as the tap.

Customers on a phone often type what a button says ("undo", "yes cancel it", "talk to a
person") rather than tapping it, and a channel may show buttons only as text. The dialogue
model need not know every label (an "undo" intent hurt the model's other intents when it was
tried), so the gateway matches the words against the buttons of the bot's last reply: letters
and digits only, case ignored, so "Yes, cancel it!" is "yes cancel it". Only the whole label
counts; "undo the cancellation of my order" is a sentence for the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.messages import Button

_NOT_A_WORD = re.compile(r"[^\w]+", re.UNICODE)


def words(text: str) -> str:
    return " ".join(_NOT_A_WORD.sub(" ", text.casefold()).split())


def typed_button(text: str, buttons: Iterable[Button]) -> Button | None:
    """The button whose label the customer typed, if the message is exactly one label."""
    typed = words(text)
    if not typed:
        return None
    return next((b for b in buttons if words(b.title) == typed), None)
