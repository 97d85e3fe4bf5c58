"""What the simulated customers say, turn by turn, and what a right answer contains.

Kefu's conversation follows the turns the end-to-end tests prove work on the demo shop
(tests/e2e/test_conversations.py): a greeting, order tracking with verification (an order
number, then the email on that order), a product question, a complaint through the complaint
form's three turns, and a request for a person (the conversation is then in human mode, so it
is the last turn). The starter bot (`rasa init`) gets as many turns from its own training data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Turn:
    kind: str  # the row of the latency table
    text: str
    # A right answer contains one of these (case-insensitive); empty: any answer will do.
    expect: tuple[str, ...] = ()
    # A right answer carries product cards.
    products: bool = False

    def answered_right(self, text: str, product_cards: int) -> bool:
        if self.products and product_cards == 0:
            return False
        lowered = text.lower()
        return not self.expect or any(e.lower() in lowered for e in self.expect)


@dataclass(frozen=True)
class DemoOrder:
    number: str
    email: str


# What Kefu says when it could not ask Rasa in time (bot/rasa_client.py UNAVAILABLE_TEXT): a
# reply, so nothing is lost, but not an answer; counted apart from wrong answers.
KEFU_UNAVAILABLE = "Sorry, I can't answer right now"


def kefu_conversation(order: DemoOrder) -> list[Turn]:
    return [
        Turn("greeting", "hello", ("I'm Kefu",)),
        Turn("order_ask", f"where is my order {order.number}?", ("email",)),
        Turn("order_verify", order.email, (order.number,)),
        Turn("product", "do you have a waterproof jacket for hiking in the rain?", ("€",),
             products=True),
        Turn("complaint_open",
             "I want to make a complaint, the dumbbells I got are broken and rusty",
             ("sorry",)),
        Turn("complaint_order", "no", ("put it right", "replacement")),
        Turn("complaint_resolution", "a replacement please", ("T-",)),
        Turn("handoff", "I want to talk to a person", ("our team", "connecting you")),
    ]


def starter_conversation() -> list[Turn]:
    # Eight turns, like Kefu's, each of which the starter bot's stories or rules answer.
    return [
        Turn("greet", "hello", ("How are you",)),
        Turn("mood_unhappy", "I am very sad", ("cheer you up",)),
        Turn("deny", "no", ("Bye",)),
        Turn("bot_challenge", "are you a bot?", ("I am a bot",)),
        Turn("greet", "hi there", ("How are you",)),
        Turn("mood_great", "I am great", ("carry on",)),
        Turn("bot_challenge", "am I talking to a human?", ("I am a bot",)),
        Turn("goodbye", "goodbye", ("Bye",)),
    ]
