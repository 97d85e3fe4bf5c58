"""Interests and consent: what the customer wants to hear about, and whether they want to hear.

A stated interest is recorded at once (it also improves recommendations). Notifications need
explicit consent, asked for separately, stored with time and channel. Withdrawing it is asked
back first ("Stop all marketing messages?"): the model may misread a message as "unsubscribe",
and a guess must never change what is stored about a customer. Once confirmed it works at once
on every channel, and its "Undo" button (the gateway's /undo) restores it for ten minutes. (The
gateway's /stop command is explicit and works at once.)
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.help_answers import answer_or_say_not_covered, is_question
from actions.store import in_store, sender_identity
from actions.texts import latest_text
from crm_store.models import InterestSource
from crm_store.normalise import normalise_topic
from crm_store.services import customers, interests


def _customer(session, tracker_customer_id: str | None, channel: str, external_id: str):
    if tracker_customer_id:
        found = customers.get(session, customer_id=int(tracker_customer_id))
        if found is not None:
            return found
    return customers.find_or_create_by_identity(session, channel=channel, external_id=external_id)


async def ask_for_a_topic_or_answer(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """No topic named. A wish for news without one ("keep me posted!") is asked which topic; a
    question read as one ("do you have a newsletter?", "do you offer bike repairs at home?") is
    answered from the help pages, or, when it asks what the shop offers, with "I don't know" and
    a person: nothing about the customer is recorded from a question."""
    if not (is_question(latest_text(tracker))
            and await answer_or_say_not_covered(dispatcher, tracker)):
        dispatcher.utter_message(response="utter_ask_interest_topic")


class ActionRecordInterest(Action):
    def name(self) -> str:
        return "action_record_interest"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        topics = [normalise_topic(str(t)) for t in tracker.get_latest_entity_values("topic")]
        topics = [t for t in dict.fromkeys(topics) if t]
        if not topics and tracker.get_slot("interest_topic"):
            topics = [normalise_topic(tracker.get_slot("interest_topic"))]
        if not topics:
            await ask_for_a_topic_or_answer(dispatcher, tracker)
            return []
        channel, external_id = sender_identity(tracker)
        customer_id = tracker.get_slot("customer_id")

        def record(session):
            customer = _customer(session, customer_id, channel, external_id)
            for topic in topics:
                interests.add(session, customer_id=customer.id, topic=topic,
                              source=InterestSource.STATED, weight=1.0)
            return customer.marketing_opt_in

        already = await in_store(record)
        listed = " and ".join(topics)
        if already:
            dispatcher.utter_message(
                text=f"Noted — you're interested in {listed}. You're already subscribed, so "
                     "you'll hear about new products that match. Say \"unsubscribe\" any time.")
            return [SlotSet("interest_topic", None), SlotSet("consent_pending", False)]
        dispatcher.utter_message(
            text=(f"Noted — you're interested in {listed}. May I send you a message here on "
                  f"{channel} when new {listed} products arrive? At most one message every few "
                  "days, never at night, and you can stop it any time by saying \"unsubscribe\"."),
            buttons=[{"title": "Yes, notify me", "payload": "/affirm"},
                     {"title": "No, thanks", "payload": "/deny"}])
        return [SlotSet("interest_topic", None), SlotSet("consent_pending", True)]


async def _set_consent(tracker: Tracker, opt_in: bool) -> None:
    """Consent given or withdrawn by the customer, stamped with now and this channel."""
    channel, external_id = sender_identity(tracker)
    customer_id = tracker.get_slot("customer_id")

    def record(session):
        customer = _customer(session, customer_id, channel, external_id)
        customers.set_marketing_consent(session, customer_id=customer.id, opt_in=opt_in,
                                        source=channel, actor="customer")

    await in_store(record)


class ActionGrantConsent(Action):
    def name(self) -> str:
        return "action_grant_consent"

    async def run(self, dispatcher, tracker, domain):
        await _set_consent(tracker, opt_in=True)
        dispatcher.utter_message(
            text="Done — I'll let you know here when something new matches your interests. "
                 "Say \"unsubscribe\" whenever you want me to stop.")
        return [SlotSet("consent_pending", False)]


class ActionDeclineConsent(Action):
    def name(self) -> str:
        return "action_decline_consent"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(
            text="No problem — I won't send you notifications. I'll still use your interests "
                 "when you ask me for recommendations.")
        return [SlotSet("consent_pending", False)]


def _subscribed(tracker: Tracker):
    channel, external_id = sender_identity(tracker)
    customer_id = tracker.get_slot("customer_id")
    return lambda session: _customer(session, customer_id, channel, external_id).marketing_opt_in


class ActionAskUnsubscribe(Action):
    """The customer seems to want no more marketing: ask before changing anything."""

    def name(self) -> str:
        return "action_ask_unsubscribe"

    async def run(self, dispatcher, tracker, domain):
        if not await in_store(_subscribed(tracker)):
            dispatcher.utter_message(
                text="You're not signed up for marketing messages, so there's nothing to stop. "
                     "You'll still get answers here and news about your own orders.")
            return []
        dispatcher.utter_message(
            text="Stop all marketing messages from us, on every channel? You'll still get "
                 "answers here and updates about your orders.",
            buttons=[{"title": "Yes, stop them", "payload": "/affirm"},
                     {"title": "No, keep them", "payload": "/deny"}])
        return []


class ActionUnsubscribe(Action):
    def name(self) -> str:
        return "action_unsubscribe"

    async def run(self, dispatcher, tracker, domain):
        was_subscribed = await in_store(_subscribed(tracker))
        await _set_consent(tracker, opt_in=False)
        dispatcher.utter_message(
            text="You're unsubscribed: we won't send you any more notifications, on any channel. "
                 "You can still chat with me here whenever you like.",
            buttons=[{"title": "Undo", "payload": "/undo"}] if was_subscribed else [])
        # "Undo" is the gateway's /undo (bot/gateway.py): it restores exactly what was there.
        return [SlotSet("consent_pending", False)]


class ActionKeepSubscription(Action):
    def name(self) -> str:
        return "action_keep_subscription"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="OK — nothing changed: you're still subscribed.")
        return []
