"""Answers from the shop's help articles for what no intent covers.

Called by the fallback and out-of-scope actions before they give up: the message is looked up
in the help centre (knowledge/help_service.py), and a confident passage is sent as it is
written, with the article's title, and a way to a person. A weak match is no answer: then the
caller says it does not know. Intents that read live data (orders, tickets) never come here.
"""

from __future__ import annotations

import asyncio
import logging
import re

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.texts import latest_text
from knowledge.help_service import HelpAnswer, get_help_service

logger = logging.getLogger(__name__)

HANDOFF_BUTTON = {"title": "Talk to a person", "payload": "/human_handoff"}
# The custom payload that tells the gateway (and through it the agent console and the
# dashboard) which article answered.
SOURCE_TYPE = "help_article"
# An English question: a question mark, or a question word first. Used only to choose between
# "I don't know that" and "say it another way" when nothing answered.
_QUESTION_START = re.compile(
    r"^\s*(how|what|whats|what's|where|when|why|who|which|do|does|did|is|are|can|could|will|"
    r"would|should|may|have|has|any)\b", re.IGNORECASE)


def is_question(text: str) -> bool:
    return text.rstrip().endswith("?") or bool(_QUESTION_START.match(text))


# "Do you offer …?", "does your shop do …?": a question about what the shop itself provides.
# The model reads one it has no intent for as off-topic, or by its product words as something
# else ("do you offer bike repairs at home?" as a wish for news about bikes); only the shop can
# say it does not offer it: when its help pages do not answer, "I don't know, ask a person" is
# the honest reply, not "not something I can help with" nor "what would you like to hear about?".
_ASKS_WHAT_THE_SHOP_OFFERS = re.compile(
    r"^\s*(do|does|can|could|will|would)\s+(you|u|ya|your\s+\w+)(\s+guys)?\s+"
    r"(offer|provide|do|sell|stock|carry|rent|hire|run)\b", re.IGNORECASE)


def asks_what_the_shop_offers(text: str) -> bool:
    return bool(_ASKS_WHAT_THE_SHOP_OFFERS.match(text))


async def answer_or_say_not_covered(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """The help pages' answer; or, for a question about what the shop offers that they do not
    cover, "I don't know" and a person. False when neither: the caller gives its own reply."""
    if (answer := await find_help_answer(tracker)) is not None:
        send_help_answer(dispatcher, answer)
        return True
    if asks_what_the_shop_offers(latest_text(tracker)):
        send_dont_know(dispatcher)
        return True
    return False


async def find_help_answer(tracker: Tracker) -> HelpAnswer | None:
    """The help centre's answer to what the customer typed (None: none, or a button tap)."""
    text = latest_text(tracker).strip()
    if len(text.split()) < 2:
        return None  # one word is a topic, not a question the help centre can answer
    try:
        return await asyncio.to_thread(get_help_service().answer, text)
    except Exception:  # noqa: BLE001 - the help centre must never break the fallback itself
        logger.exception("help answer failed for %r", text)
        return None


def send_help_answer(dispatcher: CollectingDispatcher, answer: HelpAnswer) -> None:
    dispatcher.utter_message(
        text=f"{answer.excerpt()}\n\n(From our help page “{answer.title}”.)",
        buttons=[HANDOFF_BUTTON],
        json_message={"type": SOURCE_TYPE, "slug": answer.slug, "title": answer.title},
    )


def send_dont_know(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(
        text=("I'm sorry, I don't know the answer to that, and our help pages don't cover it. "
              "Would you like to ask a person? They'll see this conversation. "
              "Or you can put it another way."),
        buttons=[HANDOFF_BUTTON],
    )
