"""The not-understood inbox: what it collects from the store, how the real MiniLM model groups
it, and the review file labels go to."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
import yaml

from bot.not_understood import LabelRefused, ReviewFile, group_messages, known_intents
from crm_store.db import session_scope
from crm_store.models import Conversation, Direction, Message, SenderKind
from crm_store.services import analytics
from crm_store.services.analytics import Scope
from tests.dashboard.seed import END, T, seed

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def encode():
    from knowledge.embedder import get_embedder

    return get_embedder().encode


def _messages(*texts: str) -> list[dict]:
    return [{"id": i, "text": text, "intent": "nlu_fallback", "created_at": T + timedelta(i)}
            for i, text in enumerate(texts, start=1)]


def test_the_inbox_collects_fallbacks_and_low_confidence_customer_messages(store):
    with session_scope() as session:
        seed(session)
        conv = Conversation(channel="web", external_id="extra", started_at=T)
        session.add(conv)
        session.flush()
        # A bot message with low confidence is not the customer's: never in the inbox.
        session.add(Message(conversation_id=conv.id, direction=Direction.OUTBOUND,
                            sender_kind=SenderKind.BOT, text="bot", confidence=0.1,
                            created_at=T + timedelta(hours=5)))
    with session_scope() as session:
        found = analytics.not_understood_messages(session, Scope(T, END))
    assert [(m["intent"], m["confidence"]) for m in found] == [("human", 0.4),
                                                               ("nlu_fallback", 0.3)]


def test_a_message_a_help_article_answered_leaves_the_inbox(store):
    from bot import store as gateway_store
    from bot.messages import Content

    with session_scope() as session:
        conv = Conversation(channel="web", external_id="helped", started_at=T)
        session.add(conv)
        session.flush()
        asked = Message(conversation_id=conv.id, direction=Direction.INBOUND,
                        sender_kind=SenderKind.CUSTOMER, text="do gift cards expire?",
                        created_at=T + timedelta(hours=1))
        unknown = Message(conversation_id=conv.id, direction=Direction.INBOUND,
                          sender_kind=SenderKind.CUSTOMER, text="do you rent tents?",
                          created_at=T + timedelta(hours=2))
        session.add_all([asked, unknown])
        session.flush()
        ids = conv.id, asked.id, unknown.id
    conv_id, asked_id, unknown_id = ids
    # The gateway stores the turns as it does live: one answered from an article, one not.
    with session_scope() as session:
        gateway_store.after_reply(conv_id, asked_id, "nlu_fallback", 0.3, [Content(
            "Gift cards are valid for 24 months.", article=("gift-cards", "Gift cards"))],
            None)(session)
        gateway_store.after_reply(conv_id, unknown_id, "nlu_fallback", 0.3, [Content(
            "I'm sorry, I don't know the answer to that.")], None)(session)
    with session_scope() as session:
        found = analytics.not_understood_messages(session, Scope(T, END))
        assert [m["text"] for m in found] == ["do you rent tents?"]


def test_similar_messages_share_a_group_named_after_the_commonest_wording(encode):
    messages = _messages("where is my parcel", "where is my parcel", "Where is  my parcel",
                         "my parcel has not arrived yet", "wheres my package",
                         "can I pay with bitcoin", "do you accept crypto currency",
                         "is the shop open on sundays", "when do you open on sunday",
                         "asdfgh qwerty")
    groups = group_messages(messages, encode)
    summary = [(g.label, g.size, sorted(t for t, _ in g.texts)) for g in groups]
    assert summary == [
        ("where is my parcel", 5,
         ["my parcel has not arrived yet", "where is my parcel", "wheres my package"]),
        ("can I pay with bitcoin", 2, ["can I pay with bitcoin", "do you accept crypto currency"]),
        ("is the shop open on sundays", 2,
         ["is the shop open on sundays", "when do you open on sunday"]),
        ("asdfgh qwerty", 1, ["asdfgh qwerty"]),
    ]
    assert sorted(groups[0].message_ids) == [1, 2, 3, 4, 5]


def test_texts_already_labelled_leave_the_inbox(encode):
    messages = _messages("where is my parcel", "can I pay with bitcoin")
    groups = group_messages(messages, encode, exclude={"where is my parcel"})
    assert [g.label for g in groups] == ["can I pay with bitcoin"]


def test_labelling_appends_examples_to_a_review_file_rasa_can_read(tmp_path):
    review = ReviewFile(tmp_path / "review" / "nlu_review.yml")
    intents = known_intents()
    assert "track_order" in intents
    assert "nlu_fallback" not in intents and "EXTERNAL_ticket_resolved" not in intents
    assert review.add("track_order", ["where is my parcel", "wheres my package"],
                      intents=intents) == ["where is my parcel", "wheres my package"]
    # a second label adds only what is new, to its own intent
    assert review.add("track_order", ["Where is my  parcel", "my parcel is late"],
                      intents=intents) == ["my parcel is late"]
    assert review.add("greet", ["hiya: folks #1"], intents=intents) == ["hiya: folks #1"]
    data = yaml.safe_load(review.path.read_text())
    assert data["version"] == "3.1"
    blocks = {b["intent"]: b["examples"] for b in data["nlu"]}
    assert blocks["track_order"] == ("- where is my parcel\n- wheres my package\n"
                                      "- my parcel is late\n")
    assert blocks["greet"] == "- hiya: folks #1\n"
    assert review.labelled() == {"where is my parcel", "wheres my package", "my parcel is late",
                                 "hiya: folks #1"}


def test_a_label_must_be_a_known_intent_and_carry_examples(tmp_path):
    review = ReviewFile(tmp_path / "nlu_review.yml")
    with pytest.raises(LabelRefused, match="unknown intent 'teleport'"):
        review.add("teleport", ["beam me up"], intents=known_intents())
    with pytest.raises(LabelRefused, match="no examples"):
        review.add("greet", ["   "], intents=known_intents())
    assert not review.path.exists()


def test_confident_answers_turned_down_or_asked_again_are_in_the_inbox_too(store, encode):
    """Issue 20: the inbox listed only fallbacks; an answer the customer said no to, or asked
    again in other words, was as much a miss."""
    def chat(name: str, *turns) -> None:
        conv = Conversation(channel="web", external_id=name, started_at=T)
        session.add(conv)
        session.flush()
        for seconds, kind, text, intent, buttons in turns:
            session.add(Message(
                conversation_id=conv.id, sender_kind=kind, text=text, intent=intent,
                confidence=0.9 if intent else None,
                direction=Direction.INBOUND if kind == SenderKind.CUSTOMER else Direction.OUTBOUND,
                payload={"buttons": [{"title": "Yes", "payload": "/affirm"}]} if buttons else None,
                created_at=T + timedelta(hours=1, seconds=seconds)))

    C, B = SenderKind.CUSTOMER, SenderKind.BOT
    with session_scope() as session:
        chat("again", (0, C, "do you have a waterproof jacket", "product_question", False),
             (1, B, "Here's what I found:", None, False),
             (40, C, "no, a waterproof jacket for kids", "product_question", False))
        chat("turned-down", (0, C, "how much is express delivery", "delivery_options", False),
             (1, B, "Standard delivery is free…", None, False), (30, C, "no", "deny", False))
        # "No" to the bot's own yes/no question answers it; it turns nothing down.
        chat("answered", (0, C, "show me hiking boots", "product_question", False),
             (1, B, "Would you like to see similar products?", None, True),
             (20, C, "no", "deny", False))
        chat("much-later", (0, C, "track my order", "track_order", False),
             (1, B, "Which order?", None, False), (900, C, "no", "deny", False))
        chat("next-question", (0, C, "hiking boots", "product_question", False),
             (1, B, "Here's what I found:", None, False),
             (30, C, "and running shoes?", "product_question", False))
    with session_scope() as session:
        found = analytics.rejected_answers(session, Scope(T, END))
    assert sorted((m["text"], m["why"]) for m in found) == [
        ("do you have a waterproof jacket", analytics.ASKED_AGAIN),
        ("how much is express delivery", analytics.ANSWER_REJECTED)]
    [group] = [g for g in group_messages(found, encode)
               if g.label == "how much is express delivery"]
    assert group.as_dict()["reasons"] == {analytics.ANSWER_REJECTED: 1}
