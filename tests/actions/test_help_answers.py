"""Issue 15: what no intent covers is answered from the shop's help articles, with the
article's title and a way to a person; what they do not cover gets "I don't know" and a person,
never an answer from a weak match."""

from __future__ import annotations

from rasa_sdk.events import UserUtteranceReverted

from actions.fallback import ActionKefuFallback, ActionOutOfScope
from actions.feedback import ActionStoreFeedback
from actions.interests import ActionRecordInterest
from crm_store.db import session_scope
from crm_store.models import Interest, Ticket
from tests.actions.conftest import tracker

DELIVERY = """# Where we deliver

## Countries we ship to
We deliver to the UK, every EU country, the US and Canada. We do not ship to Australia,
New Zealand or Asia yet.

## Shipping to Canada
Parcels to Canada travel with our express partner and arrive in 5-8 working days.
"""
GIFT_CARDS = """# Gift cards

## Buying a gift card
Digital gift cards from €10 to €250 arrive by email within an hour.

## How long a gift card is valid
Every gift card is valid for 24 months from the day it was bought.
"""


def sync_articles(help_centre, tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "where-we-deliver.md").write_text(DELIVERY, encoding="utf-8")
    (folder / "gift-cards.md").write_text(GIFT_CARDS, encoding="utf-8")
    help_centre.sync(folder)


def fallback_tracker(text):
    t = tracker(text=text, intent="nlu_fallback")
    t.latest_message["intent"] = {"name": "nlu_fallback", "confidence": 0.3}
    return t


async def test_a_question_no_intent_covers_is_answered_from_the_article(
        dispatcher, help_centre, tmp_path):
    sync_articles(help_centre, tmp_path)
    events = await ActionKefuFallback().run(dispatcher, fallback_tracker(
        "how long is a gift card valid for?"), {})
    assert events == [UserUtteranceReverted()]
    [message] = dispatcher.messages
    assert "valid for 24 months" in message["text"]
    assert "“Gift cards”" in message["text"]  # the customer sees where it came from
    assert message["buttons"] == [{"title": "Talk to a person", "payload": "/human_handoff"}]
    assert message["custom"]["type"] == "help_article"
    assert message["custom"]["slug"] == "gift-cards"


async def test_an_out_of_scope_message_the_help_pages_answer_is_not_out_of_scope(
        dispatcher, help_centre, tmp_path):
    sync_articles(help_centre, tmp_path)
    await ActionOutOfScope().run(dispatcher, tracker(text="do you ship to australia",
                                                     intent="out_of_scope"), {})
    [message] = dispatcher.messages
    assert "do not ship to Australia" in message["text"]
    assert message["custom"]["slug"] == "where-we-deliver"


async def test_off_topic_stays_out_of_scope_even_with_a_help_centre(
        dispatcher, help_centre, tmp_path):
    sync_articles(help_centre, tmp_path)
    await ActionOutOfScope().run(dispatcher, tracker(text="how long is the bank open until?",
                                                     intent="out_of_scope"), {})
    assert [m.get("response") for m in dispatcher.messages] == ["utter_out_of_scope"]


async def test_asking_whether_the_shop_offers_a_service_its_pages_do_not_cover_gets_a_person(
        dispatcher, help_centre, tmp_path):
    # Off-topic to the model, but only the shop can say it does not offer it.
    sync_articles(help_centre, tmp_path)
    await ActionOutOfScope().run(dispatcher, tracker(text="Do you guys offer sofa cleaning?",
                                                     intent="out_of_scope"), {})
    [message] = dispatcher.messages
    assert "don't know" in message["text"] and "help pages" in message["text"]
    assert message["buttons"] == [{"title": "Talk to a person", "payload": "/human_handoff"}]


async def test_a_question_nothing_answers_gets_i_dont_know_and_a_person(
        dispatcher, help_centre, tmp_path):
    sync_articles(help_centre, tmp_path)
    await ActionKefuFallback().run(dispatcher, fallback_tracker(
        "are you hiring at the warehouse?"), {})
    [message] = dispatcher.messages
    assert "don't know" in message["text"]
    assert not message.get("custom")  # no article answered
    assert message["buttons"] == [{"title": "Talk to a person", "payload": "/human_handoff"}]


async def test_words_that_are_no_question_are_still_asked_again(dispatcher, help_centre, tmp_path):
    sync_articles(help_centre, tmp_path)
    await ActionKefuFallback().run(dispatcher, fallback_tracker("blue elephant sandwich"), {})
    assert [m.get("response") for m in dispatcher.messages] == ["utter_please_rephrase"]


async def test_a_shop_without_help_articles_answers_as_before(dispatcher):
    await ActionOutOfScope().run(dispatcher, tracker(text="do you ship to australia",
                                                     intent="out_of_scope"), {})
    assert [m.get("response") for m in dispatcher.messages] == ["utter_out_of_scope"]


async def test_a_question_read_as_feedback_that_the_help_pages_answer_gets_the_answer(
        shop, dispatcher, help_centre, tmp_path):
    sync_articles(help_centre, tmp_path)
    await ActionStoreFeedback().run(dispatcher, tracker(
        text="how long is a gift card valid for?", intent="feedback"), {})
    [message] = dispatcher.messages
    assert "valid for 24 months" in message["text"]
    with session_scope() as session:
        assert session.query(Ticket).count() == 0  # no feedback ticket for staff to read


async def test_a_suggestion_is_still_feedback_even_when_it_names_an_article(
        shop, dispatcher, help_centre, tmp_path):
    sync_articles(help_centre, tmp_path)
    await ActionStoreFeedback().run(dispatcher, tracker(
        text="gift cards should be valid for longer than 24 months", intent="feedback"), {})
    assert "passed your feedback" in dispatcher.messages[0]["text"]
    with session_scope() as session:
        assert session.query(Ticket).one().description.startswith("gift cards should")


async def test_a_question_read_as_a_wish_for_news_records_nothing_and_gets_an_answer(
        shop, dispatcher, help_centre, tmp_path):
    sync_articles(help_centre, tmp_path)
    await ActionRecordInterest().run(dispatcher, tracker(
        text="can I buy a digital gift card?", intent="subscribe_interest"), {})
    [message] = dispatcher.messages
    assert message["custom"]["slug"] == "gift-cards"
    await ActionRecordInterest().run(dispatcher, tracker(
        text="do you offer canoe repairs at home?", intent="subscribe_interest"), {})
    assert "don't know" in dispatcher.messages[-1]["text"]
    with session_scope() as session:
        assert session.query(Interest).count() == 0


async def test_a_wish_for_news_without_a_topic_is_asked_which_topic(shop, dispatcher, help_centre):
    await ActionRecordInterest().run(dispatcher, tracker(
        text="keep me posted about new stuff", intent="subscribe_interest"), {})
    assert [m.get("response") for m in dispatcher.messages] == ["utter_ask_interest_topic"]
