"""The help centre as a knowledge source: articles into passages, an index kept in sync, and
answers only when a passage is confident (knowledge/help_*.py), with the real MiniLM model."""

from __future__ import annotations

import os
import time

import pytest

from knowledge.help_articles import HelpError, load_folder, parse_article
from knowledge.help_index import read_meta
from knowledge.help_service import HelpService

GIFT_CARDS = """# Gift cards

Give the choice: our gift cards work on everything in the shop.

## Buying a gift card
You can buy a **digital gift card** from €10 to €250 on the website. It arrives by email within
an hour, ready to forward or print.

## How long a gift card is valid
Every gift card is valid for 24 months from the day it was bought. The balance carries over, so
you can spend it over several orders.

## Lost gift card codes
Lost the email? Tell us the buyer's email address and we resend the code.
"""

WARRANTY = """# Warranty

## How long the warranty lasts
Electronics carry a two-year warranty; tents and backpacks are guaranteed for five years
against faults in materials and stitching.

## What the warranty does not cover
Wear and tear, accidental damage and repairs by someone else are not covered.
"""

CARE_HTML = """<html><head><title>Caring for merino</title></head><body>
<nav>Home &gt; Help</nav>
<h2>Washing merino wool</h2>
<p>Wash merino garments inside out on a cool wool cycle at 30&nbsp;°C with a mild detergent.</p>
<ul><li>No fabric softener</li><li>Dry flat, out of direct sunlight</li></ul>
<h2>Pilling</h2><p>A little pilling is normal in the first weeks; remove it with a fabric comb.</p>
</body></html>"""


@pytest.fixture
def help_folder(tmp_path):
    folder = tmp_path / "help"
    folder.mkdir()
    (folder / "gift-cards.md").write_text(GIFT_CARDS, encoding="utf-8")
    (folder / "warranty.md").write_text(WARRANTY, encoding="utf-8")
    (folder / "merino-care.html").write_text(CARE_HTML, encoding="utf-8")
    return folder


@pytest.fixture
def service(tmp_path, help_folder, embedder):
    service = HelpService(tmp_path / "index", check_interval=0.0)
    service.sync(help_folder)
    return service


def test_an_article_is_split_by_section_and_keeps_its_words(tmp_path):
    path = tmp_path / "gift-cards.md"
    path.write_text(GIFT_CARDS, encoding="utf-8")
    article = parse_article(path)
    assert article.slug == "gift-cards" and article.title == "Gift cards"
    headings = [p.heading for p in article.passages]
    assert headings == ["Gift cards", "Buying a gift card", "How long a gift card is valid",
                        "Lost gift card codes"]
    valid = article.passages[2]
    assert "valid for 24 months" in valid.text and "**" not in article.passages[1].text
    # Embedded with where it stands, so "how long is it valid?" finds it.
    assert valid.embedding_text().startswith("Gift cards: How long a gift card is valid.")


def test_html_articles_are_read_without_markup_or_navigation(tmp_path):
    path = tmp_path / "merino-care.html"
    path.write_text(CARE_HTML, encoding="utf-8")
    article = parse_article(path)
    assert article.title == "Caring for merino"
    washing = article.passages[0]
    assert washing.heading == "Washing merino wool"
    assert "30 °C" in washing.text and "• Dry flat" in washing.text
    assert all("Home > Help" not in p.text for p in article.passages)


def test_a_folder_with_a_bad_article_names_every_bad_file_and_indexes_nothing(
        tmp_path, help_folder, embedder):
    (help_folder / "empty.md").write_text("# Nothing here\n", encoding="utf-8")
    (help_folder / "latin1.md").write_bytes("# Caf\xe9\n\nCr\xe8me".encode("latin-1"))
    with pytest.raises(HelpError) as raised:
        load_folder(help_folder)
    message = str(raised.value)
    assert "empty.md" in message and "latin1.md" in message and "nothing was changed" in message
    service = HelpService(tmp_path / "index")
    with pytest.raises(HelpError):
        service.sync(help_folder)
    assert read_meta(tmp_path / "index") is None
    assert service.answer("how long is a gift card valid?") is None  # no index: no answer


def test_questions_get_the_passage_that_answers_them(service):
    expiry = service.answer("do your gift cards expire?")
    assert expiry is not None and expiry.slug == "gift-cards"
    assert expiry.passage.heading == "How long a gift card is valid"
    wash = service.answer("how should I wash my merino jumper")
    assert wash is not None and wash.slug == "merino-care"
    cover = service.answer("is accidental damage covered by the warranty?")
    assert cover is not None and cover.passage.heading == "What the warranty does not cover"


def test_questions_the_help_centre_does_not_answer_get_no_answer(service):
    for question in ("what's the weather in Paris tomorrow?", "are you hiring at the warehouse?",
                     "how do I file my tax return"):
        assert service.answer(question) is None, question


def test_a_changed_article_is_picked_up_by_a_running_service_and_only_it_is_embedded(
        service, help_folder, tmp_path):
    before_answer = service.answer("can I pay for a gift card with bitcoin?")
    assert before_answer is None or before_answer.passage.heading != "Paying with crypto"
    before = read_meta(tmp_path / "index")
    article = help_folder / "gift-cards.md"
    article.write_text(GIFT_CARDS + "\n## Paying with crypto\nGift cards can be bought with "
                       "Bitcoin through our payment partner.\n", encoding="utf-8")
    later = time.time() + 5
    os.utime(article, (later, later))
    answer = service.answer("can I pay for a gift card with bitcoin?")  # no restart, no command
    assert answer is not None and answer.passage.heading == "Paying with crypto"
    after = read_meta(tmp_path / "index")
    assert len(after["passages"]) == len(before["passages"]) + 1
    assert after["vector_file"] != before["vector_file"]
    report = service.sync()
    assert report.unchanged and report.embedded == 0


def test_a_second_process_sees_a_sync_done_by_another(service, help_folder, tmp_path):
    other = HelpService(tmp_path / "index", check_interval=3600)
    assert other.answer("do gift cards expire") is not None
    (help_folder / "warranty.md").unlink()
    service.sync()
    assert other.answer("what does the warranty not cover?") is None
