"""Issue 14 item 4: a message the NLU was torn between two customer goals gets "Did you
mean…?" with a button per goal instead of "say that another way"; the buttons carry what the
message named (an order number typed in it is not lost)."""

from __future__ import annotations

from pathlib import Path

import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import UserUtteranceReverted

from actions.fallback import ActionKefuFallback
from actions.feedback import ActionStoreFeedback
from actions.identifiers import words_of_latest_request
from actions.intent_labels import INTENT_LABELS
from crm_store.db import session_scope
from crm_store.models import Ticket
from tests.actions.conftest import tracker

DOMAIN = Path(__file__).resolve().parents[2] / "domain.yml"
# Intents that are never a goal to offer: small talk, out of scope, form answers, and the ones
# the gateway sends.
NOT_OFFERED = {"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "out_of_scope",
               "inform", "rate", "EXTERNAL_conversation_resolved", "EXTERNAL_ticket_resolved"}


def unsure(text: str, ranking: list[tuple[str, float]], entities: list[dict] | None = None,
           events: list[dict] | None = None) -> Tracker:
    """The tracker as Rasa sends it after the FallbackClassifier marked the message unsure."""
    t = tracker(text=text, intent="nlu_fallback", entities=entities, events=events)
    t.latest_message["intent"] = {"name": "nlu_fallback", "confidence": 0.6}
    t.latest_message["intent_ranking"] = (
        [{"name": "nlu_fallback", "confidence": 0.6}]
        + [{"name": name, "confidence": confidence} for name, confidence in ranking])
    return t


def fallback_turn(text: str) -> list[dict]:
    """An earlier customer turn that ended in the fallback (and was reverted)."""
    return [{"event": "user", "text": text, "parse_data": {"intent": {"name": "nlu_fallback"}}},
            {"event": "action", "name": "action_kefu_fallback"},
            {"event": "bot", "text": "…"},
            {"event": "rewind"}, {"event": "action", "name": "action_listen"}]


async def test_two_close_goals_become_buttons_that_keep_the_order_number(dispatcher):
    t = unsure("90001 money back or where is it", [("track_order", 0.46), ("refund_status", 0.41),
                                                  ("return_item", 0.05)],
               entities=[{"entity": "order_id", "value": "90001", "extractor": "DIETClassifier"}])
    events = await ActionKefuFallback().run(dispatcher, t, {})
    assert events == [UserUtteranceReverted()]  # the conversation continues where it was
    [message] = dispatcher.messages
    assert message["response"] == "utter_did_you_mean"
    assert [(b["title"], b["payload"]) for b in message["buttons"]] == [
        ("Track an order", '/track_order{"order_id": "90001"}'),
        ("Ask about a refund", '/refund_status{"order_id": "90001"}'),
        ("Something else", "/nlu_fallback")]


async def test_the_ranking_is_read_by_confidence_not_by_position(dispatcher):
    t = unsure("i want to send it back and get my money", [("refund_status", 0.35),
                                                          ("return_item", 0.5)])
    await ActionKefuFallback().run(dispatcher, t, {})
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == [
        "/return_item", "/refund_status", "/nlu_fallback"]


async def test_small_talk_or_out_of_scope_among_the_two_is_not_offered(dispatcher):
    for ranking in ([("greet", 0.45), ("track_order", 0.4)],
                    [("track_order", 0.45), ("out_of_scope", 0.4)],
                    [("inform", 0.5), ("track_order", 0.4)]):
        await ActionKefuFallback().run(dispatcher, unsure("hello where", ranking), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_please_rephrase"] * 3
    assert not any(m.get("buttons") for m in dispatcher.messages)


async def test_a_spread_out_guess_is_noise_not_a_choice(dispatcher):
    for ranking in ([("track_order", 0.55), ("refund_status", 0.1)],   # runner-up too weak
                    [("track_order", 0.28), ("refund_status", 0.21)]):  # the two hold too little
        await ActionKefuFallback().run(dispatcher, unsure("blah order", ranking), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_please_rephrase"] * 2


async def test_a_core_fallback_on_a_confident_intent_asks_to_rephrase(dispatcher):
    # RulePolicy found no next step: which intent it was is not in question.
    t = tracker(text="cancel it", intent="cancel_order")
    t.latest_message["intent_ranking"] = [{"name": "cancel_order", "confidence": 0.55},
                                          {"name": "change_order", "confidence": 0.4}]
    await ActionKefuFallback().run(dispatcher, t, {})
    assert dispatcher.messages[0]["response"] == "utter_please_rephrase"


async def test_something_else_asks_to_rephrase_and_a_further_miss_offers_a_person(dispatcher):
    earlier = fallback_turn("money back or where")
    clicked = tracker(text="/nlu_fallback", intent="nlu_fallback",
                      events=earlier + [{"event": "user", "text": "/nlu_fallback"}])
    clicked.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 1.0}]
    events = await ActionKefuFallback().run(dispatcher, clicked, {})
    assert dispatcher.messages[-1]["response"] == "utter_please_rephrase"
    assert events == [UserUtteranceReverted()]
    # Their own words, still torn between the same two: now a person is offered.
    again = unsure("refund where order", [("track_order", 0.45), ("refund_status", 0.4)],
                   events=earlier + fallback_turn("/nlu_fallback")
                   + [{"event": "user", "text": "refund where order"}])
    await ActionKefuFallback().run(dispatcher, again, {})
    assert "talk to a person" in dispatcher.messages[-1]["text"]
    assert dispatcher.messages[-1]["buttons"] == [{"title": "Talk to a person",
                                                   "payload": "/human_handoff"}]


async def test_a_message_in_another_language_still_gets_english_and_a_person(dispatcher):
    t = unsure("Wo ist meine Bestellung? Ich warte schon seit zwei Wochen darauf.",
               [("track_order", 0.45), ("refund_status", 0.4)])
    await ActionKefuFallback().run(dispatcher, t, {})
    assert "German" in dispatcher.messages[0]["text"]


def test_every_customer_goal_in_the_domain_has_a_button_label():
    domain = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]}
    assert set(INTENT_LABELS) <= intents, "a label for an intent the domain does not know"
    assert set(INTENT_LABELS) == intents - NOT_OFFERED
    assert len(set(INTENT_LABELS.values())) == len(INTENT_LABELS)  # no two buttons alike
    assert "utter_did_you_mean" in domain["responses"]


def test_the_rules_send_a_click_on_something_else_back_to_the_fallback():
    rules = yaml.safe_load((DOMAIN.parent / "data" / "rules" / "basics.yml").read_text())
    steps = [r["steps"] for r in rules["rules"]]
    assert [{"intent": "nlu_fallback"}, {"action": "action_kefu_fallback"}] in steps


# --- a tapped guess keeps the message's words for the actions that read them -----------------

def test_the_words_behind_a_tap_are_those_of_the_unclear_message():
    earlier = fallback_turn("the zip broke, money back or new one?")
    tap = tracker(text="/refund_status", intent="refund_status",
                  events=earlier + [{"event": "user", "text": "/refund_status"}])
    assert words_of_latest_request(tap) == "the zip broke, money back or new one?"
    # A button under any other answer (a quick reply, "Show more") has no words behind it.
    other = tracker(text="/recommend_product", intent="recommend_product", events=[
        {"event": "user", "text": "hi"}, {"event": "action", "name": "utter_greet"},
        {"event": "user", "text": "/recommend_product"}])
    assert words_of_latest_request(other) == ""
    typed = tracker(text="where is my order", intent="track_order")
    assert words_of_latest_request(typed) == "where is my order"


async def test_feedback_chosen_from_the_buttons_stores_what_the_customer_wrote(shop, dispatcher):
    said = "the checkout page is really slow on my phone"
    tap = tracker(text="/feedback", intent="feedback",
                  events=fallback_turn(said) + [{"event": "user", "text": "/feedback"}])
    await ActionStoreFeedback().run(dispatcher, tap, {})
    with session_scope() as session:
        assert session.query(Ticket).one().subject == said  # not "/feedback"
