"""Each role lands on its own page after signing in; a page it was sent from wins only when
the role may open it (a marketer bounced from /agent must not land on "Not allowed")."""

from __future__ import annotations

import httpx
import pytest

from bot.auth import STAFF_PAGES
from tests.staff.conftest import ADA, ANNA, MIA, Account

HOME = {ANNA: "/agent", MIA: "/marketing", ADA: "/dashboard"}
PAGES = ("/agent", "/dashboard", "/marketing")


def _sign_in(browser: httpx.Client, account: Account, next_path: str | None) -> str:
    form = {"email": account.email, "password": account.password}
    if next_path is not None:
        form["next"] = next_path
    response = browser.post("/login", data=form)
    assert response.status_code == 303, response.text
    return response.headers["location"]


@pytest.mark.parametrize("account", [ANNA, MIA, ADA], ids=lambda a: a.role)
def test_each_role_lands_on_its_own_page_and_can_open_it(api_gateway, account):
    with httpx.Client(base_url=api_gateway.url) as browser:
        # The sign-in page opened directly (no page asked for) carries no target of its own.
        form = browser.get("/login")
        assert 'name="next" value=""' in form.text
        landing = _sign_in(browser, account, "")
        assert landing == HOME[account]
        assert browser.get(landing).status_code == 200


def test_a_marketer_sent_from_the_agent_console_lands_on_the_marketing_console(api_gateway):
    with httpx.Client(base_url=api_gateway.url) as browser:
        bounced = browser.get("/agent")
        assert bounced.headers["location"] == "/login?next=/agent"
        page = browser.get(bounced.headers["location"])
        assert 'name="next" value="/agent"' in page.text
        landing = _sign_in(browser, MIA, "/agent")
        assert landing == "/marketing"
        shown = browser.get(landing)
        assert shown.status_code == 200 and "Not allowed" not in shown.text


@pytest.mark.parametrize("account", [ANNA, MIA, ADA], ids=lambda a: a.role)
@pytest.mark.parametrize("page", PAGES)
def test_a_page_asked_for_wins_only_when_the_role_may_open_it(api_gateway, account, page):
    with httpx.Client(base_url=api_gateway.url) as browser:
        landing = _sign_in(browser, account, page + "?from=link")
        status = browser.get(page).status_code
    if status == 200:
        assert landing == page + "?from=link"
    else:
        assert status == 403 and landing == HOME[account]
    # The table sign-in reads agrees with what the page itself lets in.
    assert (account.role in STAFF_PAGES[page]) == (status == 200)


def test_a_page_that_needs_no_role_and_an_off_site_target(api_gateway):
    with httpx.Client(base_url=api_gateway.url) as browser:
        assert _sign_in(browser, MIA, "/api/auth/me") == "/api/auth/me"
        assert _sign_in(browser, MIA, "//evil.example/agent") == "/marketing"
        assert _sign_in(browser, ADA, "https://evil.example/") == "/dashboard"
