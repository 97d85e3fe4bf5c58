"""Outside business hours a customer waiting for a person may leave an email address for the
answer: through the real gateway and its REST channel on a real store (no Rasa needed: `/human`
reaches a person even when the dialogue cannot answer), and in the agent console's API and page.

Kefu sends no email itself: the console gives the agent a mailto: link."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm_store.db import session_scope
from crm_store.models import Conversation, Handoff
from kefu_config.policy import load_policy
from tests.clock.moments import london
from tests.staff.conftest import ANNA, OPEN_NEXT_STEPS

# Depends on the time of day: the shop's clock is set for each test (policy/shop.yml: Monday
# to Friday 09:00-18:00, Europe/London).
pytestmark = pytest.mark.clock

TUESDAY_EVENING = london(2026, 12, 1, 20, 0)  # offline; back Wednesday at 09:00
TUESDAY_MORNING = london(2026, 12, 1, 10, 0)  # open
EMAIL_OFFER = "If you'd like the answer by email as well, just type your email address here."


class RestCustomer:
    def __init__(self, gateway, sender: str) -> None:
        self.url = f"{gateway.url}/webhooks/rest/webhook"
        self.sender = sender

    def say(self, text: str) -> list[str]:
        """What the gateway answered, as the customer reads it."""
        response = httpx.post(self.url, json={"sender": self.sender, "message": text},
                              timeout=60)
        assert response.status_code == 200, response.text
        return [m.get("text", "") for m in response.json()]


def _conversation_id(sender: str) -> int:
    with session_scope() as session:
        return session.scalar(select(Conversation.id).where(Conversation.channel == "rest",
                                                            Conversation.external_id == sender))


def _reply_email(conversation_id: int) -> str | None:
    with session_scope() as session:
        return session.scalar(select(Handoff.reply_email)
                              .where(Handoff.conversation_id == conversation_id)
                              .order_by(Handoff.id.desc()).limit(1))


def _customer_texts(staff, conversation_id: int) -> list[str]:
    transcript = staff.ok("GET", f"/api/conversations/{conversation_id}")
    return [m["text"] for m in transcript["messages"] if m["sender"] == "customer"]


def _mailto(email: str) -> str:
    subject = f"Your question to {load_policy().shop.name}".replace(" ", "%20")
    return f"mailto:{email}?subject={subject}"


def test_offline_the_customer_leaves_an_email_and_staff_see_it(api_gateway, as_staff,
                                                              shop_clock):
    shop_clock(TUESDAY_EVENING)
    customer = RestCustomer(api_gateway, "reply-email-offline")
    [next_steps] = customer.say("/human")
    assert "offline right now" in next_steps and "Wednesday at 09:00" in next_steps
    assert next_steps.endswith(EMAIL_OFFER)
    conversation_id = _conversation_id(customer.sender)

    assert customer.say("my email is jane.doe@example.com") == [
        "Thanks — our team will send their answer to j***@example.com as well as here."]
    assert _reply_email(conversation_id) == "jane.doe@example.com"

    # A second address replaces the first; one that is not valid changes nothing, unanswered.
    assert customer.say("Sorry, better: JD@Example.org.") == [
        "Thanks — our team will send their answer to j***@example.org as well as here."]
    assert customer.say("or jane@example") == []
    assert _reply_email(conversation_id) == "jd@example.org"

    # Staff read every message as before, and the queue shows where to send the answer.
    anna = as_staff(api_gateway, ANNA)
    assert _customer_texts(anna, conversation_id) == [
        "/human", "my email is jane.doe@example.com", "Sorry, better: JD@Example.org.",
        "or jane@example"]
    [entry] = [h for h in anna.ok("GET", "/api/handoffs", params={"status": "waiting"})
               if h["conversation_id"] == conversation_id]
    assert entry["reply_email"] == "jd@example.org"
    assert entry["reply_mailto"] == _mailto("jd@example.org")
    shown = anna.ok("GET", f"/api/conversations/{conversation_id}")["handoff"]
    assert (shown["reply_email"], shown["reply_mailto"]) == ("jd@example.org",
                                                             _mailto("jd@example.org"))
    # Still there for the agent who takes the conversation and answers.
    claimed = anna.ok("POST", f"/api/handoffs/{entry['id']}/claim")
    assert claimed["reply_email"] == "jd@example.org"


def test_the_console_needs_staff_to_show_the_address(api_gateway, shop_clock):
    shop_clock(TUESDAY_EVENING)
    customer = RestCustomer(api_gateway, "reply-email-signed-out")
    customer.say("/human")
    customer.say("ana@example.com")
    response = httpx.get(f"{api_gateway.url}/api/handoffs", params={"status": "waiting"})
    assert response.status_code == 401
    assert "ana@example.com" not in response.text


def test_during_business_hours_nothing_is_noted_and_nothing_said(api_gateway, as_staff,
                                                                 shop_clock):
    shop_clock(TUESDAY_MORNING)
    customer = RestCustomer(api_gateway, "reply-email-open")
    [next_steps] = customer.say("/human")
    assert OPEN_NEXT_STEPS in next_steps and "email" not in next_steps
    conversation_id = _conversation_id(customer.sender)
    assert customer.say("my email is jane.doe@example.com") == []
    assert _reply_email(conversation_id) is None
    anna = as_staff(api_gateway, ANNA)
    assert "my email is jane.doe@example.com" in _customer_texts(anna, conversation_id)
    [entry] = [h for h in anna.ok("GET", "/api/handoffs", params={"status": "waiting"})
               if h["conversation_id"] == conversation_id]
    assert entry["reply_email"] is None and entry["reply_mailto"] is None


def test_once_an_agent_took_the_conversation_nothing_is_noted(api_gateway, as_staff,
                                                              shop_clock):
    shop_clock(TUESDAY_EVENING)
    customer = RestCustomer(api_gateway, "reply-email-taken")
    customer.say("/human")
    conversation_id = _conversation_id(customer.sender)
    anna = as_staff(api_gateway, ANNA)
    [entry] = [h for h in anna.ok("GET", "/api/handoffs", params={"status": "waiting"})
               if h["conversation_id"] == conversation_id]
    anna.ok("POST", f"/api/handoffs/{entry['id']}/claim")
    assert customer.say("my email is jane.doe@example.com") == []
    assert _reply_email(conversation_id) is None
    assert "my email is jane.doe@example.com" in _customer_texts(anna, conversation_id)


@pytest.mark.browser
def test_the_agent_console_links_the_address_for_the_answer(api_gateway, browser, shop_clock):
    shop_clock(TUESDAY_EVENING)
    customer = RestCustomer(api_gateway, "reply-email-browser")
    customer.say("/human")
    customer.say("please answer to lee.wong@example.net")
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{api_gateway.url}/agent")
        page.fill("#email", ANNA.email)
        page.fill("#password", ANNA.password)
        page.click("#sign-in")
        item = page.locator("#queue-waiting .queue-item", has_text="lee.wong@example.net")
        expect(item).to_contain_text("Wants the answer by email: lee.wong@example.net")
        expect(item.locator("a")).to_have_attribute("href", _mailto("lee.wong@example.net"))
        item.locator(".name").click()
        panel = page.locator("#cust-reply-email")
        expect(panel).to_be_visible()
        expect(panel).to_have_text("Wants the answer by email: lee.wong@example.net")
        expect(panel.locator("a")).to_have_attribute("href", _mailto("lee.wong@example.net"))
    finally:
        context.close()
