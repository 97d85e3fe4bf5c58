"""Answers from the shop's policy file (policy/shop.yml): delivery, payment, contact, account.

The wording of the facts is the shop's; these actions only arrange them into a reply.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.identifiers import words_of_latest_request
from actions.texts import money
from kefu_config.policy import load_policy


class PolicyAnswer(Action, ABC):
    """One shop-policy topic per subclass: `answer()` builds the text from the policy."""

    action_name = ""

    def name(self) -> str:
        return self.action_name

    @abstractmethod
    def answer(self, tracker: Tracker) -> str:
        """The reply, in the shop's words."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=self.answer(tracker))
        return []


class ActionDeliveryOptions(PolicyAnswer):
    action_name = "action_delivery_options"

    def answer(self, tracker: Tracker) -> str:
        policy = load_policy()
        currency = policy.shop.currency
        lines = [f"• {o.name}: {'free' if o.price == 0 else money(o.price, currency)} — {o.days}"
                 for o in policy.delivery.options]
        text = "We deliver to " + policy.delivery.countries + ":\n" + "\n".join(lines)
        if policy.delivery.free_over:
            text += f"\nStandard delivery is free on orders over {money(policy.delivery.free_over, currency)}."
        if policy.delivery.note:
            text += "\n" + policy.delivery.note
        return text


class ActionPaymentMethods(PolicyAnswer):
    action_name = "action_payment_methods"

    def answer(self, tracker: Tracker) -> str:
        methods = load_policy().payment.methods
        return "You can pay with:\n" + "\n".join(f"• {m}" for m in methods)


class ActionPaymentIssue(PolicyAnswer):
    """The shop's payment help, then the offer of a payment ticket: a charge taken twice or
    wrongly needs the team to look at the money (rules/information.yml: yes starts the
    complaint form as a payment ticket, actions/complaints.py)."""

    action_name = "action_payment_issue"

    def answer(self, tracker: Tracker) -> str:
        return (load_policy().payment.issue_help
                + "\nWere you charged twice or the wrong amount? I can open a payment ticket "
                "so our team checks the charge. (If a payment still won't go through, ask for "
                "a person.)")

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=self.answer(tracker), buttons=[
            {"title": "Yes, open a payment ticket", "payload": "/affirm"},
            {"title": "No, thanks", "payload": "/deny"}])
        return []


class ActionContactInfo(PolicyAnswer):
    action_name = "action_contact_info"

    def answer(self, tracker: Tracker) -> str:
        policy = load_policy()
        shop = policy.shop
        return (f"You can reach {shop.name} by email at {shop.email} or by phone on {shop.phone}.\n"
                f"Our team's hours ({shop.timezone}): {policy.hours_text()}.\n"
                f"Address: {shop.address}. I'm here 24/7 in this chat.")


class ActionAccountHelp(PolicyAnswer):
    action_name = "action_account_help"

    # Which policy entry answers which words; the general overview otherwise.
    KEYWORDS = {
        "password": ("password", "reset", "forgot"),
        "email_change": ("change my email", "change email", "new email", "email address"),
        "delete": ("delete", "close my account", "remove my account", "erase"),
        "sign_in": ("sign in", "log in", "login", "signin", "locked"),
    }

    def answer(self, tracker: Tracker) -> str:
        topics = load_policy().account.topics
        text = words_of_latest_request(tracker).lower()
        for topic, words in self.KEYWORDS.items():
            if topic in topics and any(word in text for word in words):
                return topics[topic]
        return "Here's what I can tell you about your account:\n" + "\n".join(
            f"• {answer}" for answer in topics.values())


class ActionExplainReturns(Action):
    """The return policy, then an offer to start a return (which needs the order verified)."""

    def name(self) -> str:
        return "action_explain_returns"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        returns = load_policy().returns
        dispatcher.utter_message(
            text=(f"You can return items within {returns.days} days of delivery. "
                  f"{returns.conditions} {returns.how} {returns.refund_time}"
                  + (f" {returns.exceptions}" if returns.exceptions else "")
                  + "\nWould you like to start a return now?"),
            buttons=[{"title": "Start a return", "payload": "/affirm"},
                     {"title": "No, thanks", "payload": "/deny"}],
        )
        return []
