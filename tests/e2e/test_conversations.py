"""Whole conversations through the gateway's REST channel, on the demo shop, with the real stack.

Each test is a customer with their own sender id; the store is checked afterwards through
crm_store, so the tests assert what the customer reads and what the shop keeps.
"""

from __future__ import annotations

import os
import subprocess

import httpx
import pytest

from crm_store import db
from crm_store.db import session_scope
from crm_store.models import OrderStatus, TicketKind
from crm_store.services import customers, identities, interests, orders, products, tickets
from tests.conftest import free_port
from tests.e2e.stack import KEFU, REPO, Customer, start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("kefu-shop")
    env = {**os.environ, "KEFU_DATA_DIR": str(data_dir)}
    prepared = subprocess.run([str(KEFU), "prepare"], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=600)
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    ports = {"gateway": free_port(), "rasa": free_port(), "actions": free_port()}
    running = start_stack(data_dir, ports)
    db.configure(running.database_url)  # SQLite, or PostgreSQL on the production profile
    yield running
    running.stop()
    db.reset_engine()


def test_verified_order_status_shows_tracking(shop):
    emma = Customer(shop, "e2e-track")
    asked = emma.says("where is my order A1178?")
    assert "email" in asked.lower()
    answer = emma.says("emma.hughes@example.com")
    assert "A1178" in answer and "shipped" in answer
    assert "MY237890581GB" in answer and "Royal Mail" in answer
    # Verified now: another of her orders needs no second check.
    again = emma.says("and what about order A1069?")
    assert "A1069" in again and "delivered" in again
    with session_scope() as session:
        identity = identities.get(session, channel="rest", external_id="e2e-track")
        assert identity.verified and identity.customer.email == "emma.hughes@example.com"


def test_wrong_email_reveals_nothing_and_three_failures_offer_a_person(shop):
    stranger = Customer(shop, "e2e-wrong")
    stranger.says("track my order A1178")
    first = stranger.says("someone@example.com")
    assert "couldn't find an order with that number and email" in first
    assert "MY237890581GB" not in first and "shipped" not in first
    stranger.says("A1178")
    second = stranger.say("other.person@example.com")
    assert "MY237890581GB" not in str(second)
    stranger.says("A1178")
    third = stranger.say("third.try@example.com")
    texts = " ".join(m.get("text") or "" for m in third)
    assert "stop asking" in texts
    assert any(b["payload"] == "/human_handoff" for m in third for b in m.get("buttons", []))
    assert "MY237890581GB" not in texts


def test_cancelling_a_shipped_order_is_refused_politely(shop):
    emma = Customer(shop, "e2e-cancel-shipped")
    emma.says("I want to cancel order A1178")
    answer = emma.says("emma.hughes@example.com")
    assert "already shipped" in answer and "can no longer be cancelled" in answer
    with session_scope() as session:
        assert orders.get_by_number(session, order_number="A1178").status == OrderStatus.SHIPPED


def test_cancelling_a_paid_order_after_confirmation(shop):
    charlotte = Customer(shop, "e2e-cancel-paid")
    charlotte.says("please cancel my order A1162")
    question = charlotte.say("charlotte.evans@example.com")
    assert any("Shall I cancel it" in (m.get("text") or "") for m in question)
    done = charlotte.says("yes")
    assert "A1162 is cancelled" in done
    with session_scope() as session:
        assert orders.get_by_number(session, order_number="A1162").status == OrderStatus.CANCELLED


def test_delivery_and_contact_answers_come_from_the_policy_file(shop):
    guest = Customer(shop, "e2e-info")
    delivery = guest.says("how much is express delivery?")
    assert "Express" in delivery and "€9.95" in delivery
    contact = guest.says("what's your phone number?")
    assert "+44 20 7946 0000" in contact


def test_complaint_opens_a_ticket_with_category_priority_and_due_time(shop):
    mateo = Customer(shop, "e2e-complaint")
    opening = mateo.says("I want to make a complaint, the dumbbells I got are broken and rusty")
    assert "sorry" in opening.lower()
    assert "order" in opening.lower()  # asks which order (optional)
    mateo.says("no")
    reply = mateo.says("a replacement please")
    assert "T-" in reply
    reference = reply.split("complaint ")[1].split(" ")[0]
    # Broken: a photo would help, and the complaint is open whether one comes or not.
    assert f"send a photo of it here (the paper clip 📎 beside the message box) and I'll add " \
        f"it to complaint {reference}" in reply
    assert "anything else" in mateo.says("No photo")
    with session_scope() as session:
        ticket = tickets.get_by_reference(session, reference=reference)
        assert ticket.kind == TicketKind.COMPLAINT
        assert ticket.category.value == "product_quality"
        assert ticket.sla_due_at > ticket.created_at
        assert "replacement" in ticket.description


def test_a_general_refund_question_gets_the_policy_and_no_ends_it(shop):
    ana = Customer(shop, "e2e-refund-policy")
    answer = ana.say("how long do refunds take?")
    text = " ".join(m.get("text") or "" for m in answer)
    assert "within 5 working days" in text and "order number" in text, text
    assert "OK, I've stopped" in ana.says("no")


def test_a_verified_customer_picks_another_order_from_a_list(shop):
    """Issue 20: "what about my other orders?" got "didn't understand"."""
    emma = Customer(shop, "e2e-other-orders")
    emma.says("where is my order A1178?")
    assert "A1178" in emma.says("emma.hughes@example.com")
    listed = emma.say("what about my other orders?")
    payloads = [b["payload"] for m in listed for b in m.get("buttons") or []]
    assert '/inform{"order_id": "A1069"}' in payloads, listed
    assert "Which order" in " ".join(m.get("text") or "" for m in listed)
    picked = emma.says('/inform{"order_id": "A1069"}')  # the button
    assert "A1069" in picked and "delivered" in picked


def test_charged_twice_takes_the_order_and_opens_a_payment_ticket(shop):
    """Issue 20: "I was charged twice" got the generic payment text."""
    emma = Customer(shop, "e2e-charged-twice")
    offer = emma.says("I was charged twice for my order")
    assert "payment ticket" in offer, offer
    assert "Which order was charged?" in emma.says("yes")
    assert "email" in emma.says("A1178").lower()
    opened = emma.says("emma.hughes@example.com")
    assert "payment ticket T-" in opened and "order A1178" in opened, opened
    assert "within 3 working days" in opened
    reference = opened.split("payment ticket ")[1].split()[0]
    [ticket] = [t for t in _tickets_of("e2e-charged-twice") if t.reference == reference]
    assert ticket.category.value == "payment" and "charged twice" in ticket.subject


def _tickets_of(sender: str) -> list:
    with session_scope() as session:
        person = customers.find_or_create_by_identity(session, channel="rest",
                                                      external_id=sender)
        return tickets.for_customer(session, customer_id=person.id)


def test_a_complaint_can_be_left_at_any_question_and_nothing_is_opened(shop):
    """Issue 20: "actually never mind", then "cancel", opened a complaint with those words."""
    lena = Customer(shop, "e2e-complaint-left")
    lena.says("I want to make a complaint")
    left = lena.says("actually never mind")
    assert "no complaint was opened" in left, left
    lena.says("I want to make a complaint")
    lena.says("the zip of my jacket broke after two days")
    asked = lena.says("cancel")  # at "which order?", where a plain "no" means no order
    assert "no complaint was opened" in asked, asked
    assert _tickets_of("e2e-complaint-left") == []
    # And a complaint taken after that is whole, with nothing of the ones left behind.
    lena.says("I want to make a complaint, the zip of my jacket broke after two days")
    lena.says("no")
    reply = lena.says("a repair or a new jacket")
    assert "T-" in reply
    [ticket] = _tickets_of("e2e-complaint-left")
    assert "never mind" not in ticket.description and "cancel" not in ticket.description


def test_ticket_status_only_for_its_owner(shop):
    with session_scope() as session:
        owner = customers.get_by_email(session, email="marcus.johnson@example.com")
        reference = tickets.open(session, subject="Headphones crackle", kind="complaint",
                                 category="product_quality", customer_id=owner.id).reference
    intruder = Customer(shop, "e2e-ticket-intruder")
    intruder.says(f"what's the status of ticket {reference}?")
    refused = intruder.says("intruder@example.com")
    assert "Headphones" not in refused and "couldn't find a ticket" in refused
    marcus = Customer(shop, "e2e-ticket-owner")
    marcus.says(f"what's the status of ticket {reference}?")
    shown = marcus.says("marcus.johnson@example.com")
    assert reference in shown and "Headphones crackle" in shown and "open" in shown


def test_a_ticket_question_asks_for_the_email_used_for_the_ticket(shop):
    """Issue 14: "what's the status of ticket T-1026?" was answered "And the email address you
    used for that order?"; the ticket form asks for what is missing, in ticket words."""
    stranger = Customer(shop, "e2e-ticket-words")
    asked = stranger.says("what's the status of ticket T-1026?")
    assert "email" in asked.lower() and "order" not in asked.lower(), asked


def test_my_complaint_is_the_verified_customers_latest_ticket(shop):
    with session_scope() as session:
        owner = customers.get_by_email(session, email="emma.hughes@example.com")
        tickets.open(session, subject="Zip broke on day one", kind="complaint",
                     category="product_quality", customer_id=owner.id)
        latest = tickets.open(session, subject="Parcel left in the rain", kind="complaint",
                              category="delivery", customer_id=owner.id).reference
    emma = Customer(shop, "e2e-my-complaint")
    emma.says("where is my order A1178?")
    emma.says("emma.hughes@example.com")
    answer = emma.says("what's the status of my complaint?")
    # The latest in full; the older one only named among the other open requests.
    assert latest in answer and "Parcel left in the rain" in answer, answer
    assert "Zip broke" not in answer and "other open request" in answer, answer


def _cards(reply: list[dict]) -> list[dict]:
    return [p for m in reply if (m.get("custom") or {}).get("type") == "products"
            for p in m["custom"]["products"]]


def test_a_typo_finds_the_product_and_its_buttons_and_follow_ups_are_about_it(shop):
    """Issue 14: "waterprof jaket" found nothing; the card's "Tell me more" was not understood;
    "is it in stock?" after a product started a new search. Issue 15: "what colours?" is
    answered from the product's attributes, and a colour it does not come in is said so."""
    guest = Customer(shop, "e2e-product-context")
    cards = _cards(guest.say("waterprof jaket"))
    assert cards and "jacket" in cards[0]["name"].lower(), cards
    sku, name = cards[0]["sku"], cards[0]["name"]
    told = guest.say('/product_question{"product_sku": "%s"}' % sku)
    told_text = " ".join(m.get("text") or "" for m in told)
    assert name in told_text or [c["sku"] for c in _cards(told)] == [sku], told
    assert "didn't quite understand" not in told_text
    with session_scope() as session:
        product = products.get_by_sku(session, sku=sku)
    stock = guest.says("is it in stock?")
    assert name in stock and "stock" in stock, stock
    price = guest.says("how much is it?")
    assert name in price and f"{product.price:,.2f}" in price, price
    # Issue 15: its attributes as the shop imported them (demo_shop/products.csv's columns).
    colours = guest.says("what colours does it come in?")
    assert f"Colours: {product.attributes['colours']}" in colours, colours
    missing = next(c for c in ("orange", "pink", "purple", "yellow", "white")
                   if c not in product.attributes["colours"])
    lacking = guest.says(f"does it come in {missing}?")
    assert f"I don't see {missing} among them" in lacking, lacking


def test_product_question_answers_with_a_real_catalog_price(shop):
    guest = Customer(shop, "e2e-product")
    reply = guest.say("do you have a waterproof jacket for hiking in the rain?")
    text = " ".join(m.get("text") or "" for m in reply)
    cards = [p for m in reply if (m.get("custom") or {}).get("type") == "products"
             for p in m["custom"]["products"]]
    assert cards, reply
    with session_scope() as session:
        product = products.get_by_sku(session, sku=cards[0]["sku"])
    assert product is not None and product.category == "Hiking & Outdoor"
    assert f"€{product.price:,.2f}" in text
    assert product.name in text
    # Asking about hiking gear teaches the customer record a (weak) inferred interest.
    with session_scope() as session:
        person = customers.find_or_create_by_identity(session, channel="rest",
                                                      external_id="e2e-product")
        learnt = {(i.topic, i.source.value): i.weight
                  for i in interests.for_customer(session, customer_id=person.id)}
    assert ("hiking", "inferred") in learnt and learnt[("hiking", "inferred")] < 1.0


def test_recommendations_follow_a_hiking_interest(shop):
    emma = Customer(shop, "e2e-recommend")
    emma.says("where is my order A1178?")
    emma.says("emma.hughes@example.com")
    reply = emma.say("can you recommend something for me?")
    cards = [p for m in reply if (m.get("custom") or {}).get("type") == "products"
             for p in m["custom"]["products"]]
    assert len(cards) >= 2, reply
    with session_scope() as session:
        found = products.get_many_by_sku(session, skus=[card["sku"] for card in cards])
        categories = [found[card["sku"]].category for card in cards]
        bought = {line.product.sku for order in orders.for_customer(
            session, customer_id=customers.get_by_email(session, email="emma.hughes@example.com").id)
            for line in order.lines}
    outdoor = {"Hiking & Outdoor", "Camping"}
    assert sum(category in outdoor for category in categories) >= 2, (cards, categories)
    assert not bought & {card["sku"] for card in cards}
    assert all(card.get("reason") for card in cards)


def _opted_in(external_id: str) -> bool:
    with session_scope() as session:
        return customers.find_or_create_by_identity(session, channel="rest",
                                                    external_id=external_id).marketing_opt_in


def test_subscribe_then_unsubscribe_asks_first_and_can_be_undone(shop):
    guest = Customer(shop, "e2e-consent")
    asked = guest.say("let me know when you have new running gear")
    assert any(b["payload"] == "/affirm" for m in asked for b in m.get("buttons", []))
    guest.says("yes please")
    with session_scope() as session:
        person = customers.find_or_create_by_identity(session, channel="rest",
                                                      external_id="e2e-consent")
        assert person.marketing_opt_in and person.marketing_consent_source == "rest"
        assert "running" in [i.topic for i in interests.for_customer(session, customer_id=person.id)]
    # Asked back; nothing changes until the customer says yes.
    question = guest.say("unsubscribe me please")
    assert "Stop all marketing messages" in " ".join(m.get("text") or "" for m in question)
    assert [b["payload"] for m in question for b in m.get("buttons", [])] == ["/affirm", "/deny"]
    assert _opted_in("e2e-consent")
    assert "nothing changed" in guest.says("no")
    assert _opted_in("e2e-consent")
    guest.says("unsubscribe me please")
    done = guest.say("yes")
    assert "unsubscribed" in " ".join(m.get("text") or "" for m in done)
    assert any(b["payload"] == "/undo" for m in done for b in m.get("buttons", []))
    with session_scope() as session:
        person = customers.find_or_create_by_identity(session, channel="rest",
                                                      external_id="e2e-consent")
        assert not person.marketing_opt_in and person.marketing_consent_at is not None
    # "Undo" right after puts it back as it was, typed as well as tapped (issue 20).
    assert "subscribed again" in guest.says("undo")
    assert _opted_in("e2e-consent")


def test_a_misread_message_never_changes_a_customers_consent(shop):
    guest = Customer(shop, "e2e-consent-guess")
    guest.says("let me know when you have new hiking gear")
    guest.says("yes please")
    assert _opted_in("e2e-consent-guess")
    # The tester's message, read as "unsubscribe" (0.75) by an earlier model, which opted her out.
    said = guest.says("<script>alert('xss')</script><b>bold</b><img src=x onerror=alert(1)> "
                      "where is my order?")
    assert "unsubscribed" not in said
    assert _opted_in("e2e-consent-guess")
    for text in ("stop", "no more", "I don't want this"):
        guest.says(text)
        assert _opted_in("e2e-consent-guess"), text
        guest.says("no")  # if it was asked back: keep it
    assert _opted_in("e2e-consent-guess")


def test_a_rating_is_stored(shop):
    guest = Customer(shop, "e2e-rating")
    guest.says("hello")
    thanks = guest.says('/rate{"rating": "4"}')
    assert "4/5" in thanks
    guest.says("very quick, thanks")
    with session_scope() as session:
        from crm_store.services import conversations

        conversation = conversations.get_or_start(session, channel="rest", external_id="e2e-rating")
        assert conversation.satisfaction == 4
        assert conversation.satisfaction_comment == "very quick, thanks"


def test_after_a_poor_rating_kefu_asks_what_went_wrong_and_offers_a_person(shop):
    guest = Customer(shop, "e2e-rating-poor")
    guest.says("hello")
    asked = guest.say('/rate{"rating": "2"}')
    text = " ".join(m.get("text") or "" for m in asked)
    assert "2/5" in text and "What went wrong?" in text
    assert "Anything you'd like to add" not in text
    assert any(b["payload"] == "/human_handoff" for m in asked for b in m.get("buttons", []))
    guest.says("nobody answered my email for a week")
    with session_scope() as session:
        from crm_store.services import conversations

        conversation = conversations.get_or_start(session, channel="rest",
                                                  external_id="e2e-rating-poor")
        assert conversation.satisfaction == 2
        assert conversation.satisfaction_comment == "nobody answered my email for a week"
    # A good score keeps the light question; a poor one's "Talk to a person" reaches staff.
    happy = Customer(shop, "e2e-rating-good")
    happy.says("hello")
    assert "Anything you'd like to add" in happy.says('/rate{"rating": "5"}')
    unhappy = Customer(shop, "e2e-rating-person")
    unhappy.says("hello")
    unhappy.says('/rate{"rating": "1"}')
    unhappy.says("/human_handoff")
    with session_scope() as session:
        from crm_store.services import conversations

        conversation = conversations.get_or_start(session, channel="rest",
                                                  external_id="e2e-rating-person")
        assert conversation.satisfaction == 1 and not conversation.satisfaction_comment
        assert conversation.mode.value == "human"


def test_not_understood_twice_offers_a_person_and_is_recorded(shop):
    guest = Customer(shop, "e2e-fallback")
    # Keyboard mashes: no known word, so not understood whatever DIET guesses
    # (nlu_components/unknown_words.py; DIET alone read "asdfgh jkl" as asking for a person).
    first = guest.says("asdfgh jkl")
    assert "say that another way" in first
    second = guest.say("hjkl fdsa")
    assert any(b["payload"] == "/human_handoff" for m in second for b in m.get("buttons", []))
    with session_scope() as session:
        from crm_store.services import conversations

        conversation = conversations.get_or_start(session, channel="rest",
                                                  external_id="e2e-fallback")
        inbound = [m for m in conversations.history(session, conversation_id=conversation.id)
                   if m.direction.value == "inbound"]
    assert [m.intent for m in inbound] == ["nlu_fallback", "nlu_fallback"]
    assert [m.text for m in inbound] == ["asdfgh jkl", "hjkl fdsa"]


def test_forgetting_a_customer_erases_the_chat_in_kefu_and_in_rasa(shop):
    mateo = Customer(shop, "e2e-forget")
    mateo.says("where is my order A1149?")
    assert "A1149" in mateo.says("mateo.garcia@example.com")
    rasa_tracker = (f"http://127.0.0.1:{shop.env['KEFU_RASA_PORT']}"
                    "/conversations/rest:e2e-forget/tracker")

    def said_in_rasa() -> list[str]:
        events = httpx.get(rasa_tracker, timeout=30).json()["events"]
        return [event.get("text") for event in events if event["event"] == "user"]

    assert "mateo.garcia@example.com" in said_in_rasa()
    forgot = subprocess.run([str(KEFU), "customer", "forget", "mateo.garcia@example.com", "--yes"],
                            cwd=REPO, env=shop.env, capture_output=True, text=True, timeout=120)
    assert forgot.returncode == 0, forgot.stdout + forgot.stderr
    assert "Rasa:" in forgot.stdout and "not running" not in forgot.stdout
    # Neither Kefu's conversation log nor Rasa's own copy (its tracker: texts, slots) keeps
    # what the customer said.
    assert said_in_rasa() == [], forgot.stdout
    with session_scope() as session:
        assert identities.get(session, channel="rest", external_id="e2e-forget") is None
        assert customers.get_by_email(session, email="mateo.garcia@example.com") is None
