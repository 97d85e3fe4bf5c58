"""Search in the agent console, in a real browser (Debian's chromium through Playwright): an
agent types a word, an order number, an email address or a ticket reference in the top bar and
opens the conversation, the customer's panel or the ticket it finds."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from crm_store.db import session_scope
from crm_store.services import conversations, customers, identities, tickets
from tests.staff.conftest import ANNA
from tests.staff.test_console_browser import sign_in

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__xss=1">'


@pytest.fixture(scope="module")
def chat(api_gateway):
    """Emma (demo shop) asked on the web chat about a marketplace order and a lilac kettle."""
    with session_scope() as session:
        emma = customers.get_by_email(session, email="emma.hughes@example.com")
        identities.link(session, customer_id=emma.id, channel="web", external_id="browse-emma",
                        verified=True, actor="test")
        first = conversations.append(
            session, channel="web", external_id="browse-emma", direction="inbound",
            sender_kind="customer", text="Where is 321-7654321-7654321? It has my lilac kettle.")
        conversations.append(session, channel="web", external_id="browse-emma",
                             direction="inbound", sender_kind="customer",
                             text=f"lilac {XSS}")
        conversation = conversations.get(session, conversation_id=first.conversation_id)
        conversation.customer_id = emma.id
        ticket = tickets.open(session, subject="Lilac kettle lid cracked", kind="complaint",
                              category="product_quality", customer_id=emma.id,
                              conversation_id=conversation.id)
        return {"customer": emma.id, "conversation": conversation.id, "ticket": ticket.id,
                "reference": ticket.reference}


@pytest.fixture
def page(browser, api_gateway) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    sign_in(page, api_gateway.url, ANNA)
    expect(page).to_have_url(f"{api_gateway.url}/agent")
    # The console's script is running (it connected): the search box is its now.
    expect(page.locator("#live-status")).to_have_text("live", timeout=10_000)
    yield page
    context.close()


def search_for(page: Page, typed: str) -> None:
    page.fill("#search-q", typed)
    page.press("#search-q", "Enter")
    expect(page.locator("#search-results")).to_be_visible()
    expect(page.locator("#search-summary")).to_contain_text(typed)


def test_a_conversation_is_found_by_a_word_and_opened(page, chat):
    search_for(page, "kettle")
    hit = page.locator(f'#search-conversations .search-hit[data-conversation="{chat["conversation"]}"]')
    expect(hit).to_contain_text("Emma Hughes")
    expect(hit).to_contain_text("lilac kettle")
    hit.click()
    expect(page.locator("#search-results")).to_be_hidden()
    expect(page.locator("#transcript")).to_contain_text("321-7654321-7654321")
    expect(page.locator("#cust-name")).to_have_text("Emma Hughes")
    # What customers wrote is shown as text in the results too: nothing runs.
    search_for(page, "lilac")
    expect(page.locator("#search-conversations")).to_contain_text(XSS)
    assert page.evaluate("window.__xss") is None
    assert page.locator("#search-results img").count() == 0


def test_a_conversation_is_found_by_an_order_number_typed_in_it(page, chat):
    search_for(page, "321-7654321-7654321")
    hits = page.locator("#search-conversations .search-hit")
    expect(hits).to_have_count(1)
    hits.first.click()
    expect(page.locator("#transcript")).to_contain_text("my lilac kettle")


@pytest.mark.parametrize("typed", ["emma.hughes@example.com", "+44 20 7946 0958", "A1178"])
def test_a_customer_is_found_and_their_panel_opens(page, chat, typed):
    search_for(page, typed)
    hit = page.locator(f'#search-customers .search-hit[data-customer="{chat["customer"]}"]')
    expect(hit).to_contain_text("Emma Hughes")
    hit.click()
    expect(page.locator("#cust-name")).to_have_text("Emma Hughes")
    expect(page.locator("#cust-orders")).to_contain_text("A1178")
    # From the panel, her conversation opens.
    page.locator(f'#cust-conversations [data-conversation="{chat["conversation"]}"]').click()
    expect(page.locator("#transcript")).to_contain_text("lilac kettle")


def test_a_ticket_is_found_by_reference_and_opened_for_editing(page, chat):
    search_for(page, chat["reference"])
    hit = page.locator(f'#search-tickets .search-hit[data-ticket="{chat["ticket"]}"]')
    expect(hit).to_contain_text("Lilac kettle lid cracked")
    hit.click()
    expect(page.locator("#view-tickets")).to_be_visible()
    expect(page.locator("#ticket-edit-title")).to_have_text(
        f"{chat['reference']} — Lilac kettle lid cracked")


def test_nothing_found_and_a_bad_query_are_said(page, chat):
    search_for(page, "xylophone")
    expect(page.locator("#search-summary")).to_have_text("Nothing found for “xylophone”")
    expect(page.locator("#search-conversations")).to_contain_text("No conversations.")
    page.keyboard.press("Escape")
    expect(page.locator("#search-results")).to_be_hidden()
    page.fill("#search-q", "?!")
    page.press("#search-q", "Enter")
    expect(page.locator("#toast")).to_contain_text("no letters or digits")
