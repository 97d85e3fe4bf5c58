"""Typo tolerance (issue 14): misspelled words are corrected against the catalogue's own
vocabulary, and nothing else is touched."""

from __future__ import annotations

import pytest

from actions.products import is_good_answer
from knowledge.spelling import Speller, edit_distance
from tests.knowledge.conftest import item

# --- the whole path: the shared demo catalogue, the real model, the answer threshold -----


def test_the_reported_query_finds_the_jacket_and_is_good_enough_to_show(shared_service):
    """The web widget's "waterprof jaket" found nothing; it must find the jacket."""
    as_typed = shared_service.search("waterprof jaket", k=3, spelling=False)
    assert not is_good_answer(as_typed[0])  # the bug: too weak to show

    hits = shared_service.search("waterprof jaket", k=3)
    assert hits[0].item.sku == "HIK-001"
    assert is_good_answer(hits[0])
    # Exactly as good as the correctly spelled question.
    spelled = shared_service.search("waterproof jacket", k=3)
    assert [(h.item.sku, h.score) for h in hits] == [(h.item.sku, h.score) for h in spelled]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("hedphones", "ELE-001"),  # a missing letter
        ("sleping bag", "CAM-002"),
        ("headlmap", "HIK-005"),  # two letters swapped
        ("tnet for two", "CAM-001"),  # swapped, in a four-letter word
        ("cast iron skilet", "KIT-001"),
        ("dinosuar kit", "TOY-001"),
        ("robbot coding kit", "TOY-002"),  # an extra letter
        ("powr bank", "ELE-002"),
        ("automatic cat feder", "PET-002"),
        ("wterprof jackt", "HIK-001"),  # two edits in a long word, one in a short one
    ],
)
def test_one_typo_still_finds_the_product(shared_service, query, expected):
    hits = shared_service.search(query, k=3)
    assert hits[0].item.sku == expected, (shared_service.searcher().corrected(query), hits)
    assert is_good_answer(hits[0])


@pytest.mark.parametrize(
    "query",
    [
        "waterproof jacket",
        "a jacket to keep me dry on hikes",
        "something to stop me getting soaked when walking in the mountains",
        "block out the noise on a plane",
        "my old labrador has stiff hips and needs somewhere comfy to lie",
        "are HIK-004 good with waterproof hiking boots?",
        "20000 mAh power bank for ELE-002 fans",
        "Trail Headlamp 400",
        "running shoes",  # "shoes" is folded to "shoe" by BM25; still a catalogue word
    ],
)
def test_a_correctly_spelled_query_is_left_alone(shared_service, query):
    searcher = shared_service.searcher()
    assert searcher.corrected(query) == query
    with_spelling = searcher.search(query, k=5)
    without = searcher.search(query, k=5, spelling=False)
    assert [(h.item.sku, h.score) for h in with_spelling] == [(h.item.sku, h.score) for h in without]


@pytest.mark.parametrize(
    "query", ["xqzvw blorft", "flibbertigibbet zorp", "qwerty asdfgh", "lorem ipsum dolor"]
)
def test_nonsense_still_finds_nothing_good(shared_service, query):
    assert shared_service.searcher().corrected(query) == query
    assert not any(is_good_answer(h) for h in shared_service.search(query, k=5))


def test_codes_and_numbers_are_never_corrected(shared_service):
    searcher = shared_service.searcher()
    # One edit from a SKU, a size and a model number: none is a spelling mistake to fix.
    assert searcher.corrected("HIK-005 HIK-00 4000 28 26cm") == "HIK-005 HIK-00 4000 28 26cm"
    assert searcher.corrected("skilet 26cm HIK-001") == "skillet 26cm HIK-001"


def test_a_rare_brand_is_not_corrected_to_a_frequent_neighbour(fresh_service):
    """The shop sells five kayaks and one bag by a brand called Kajak: "kajak" means the bag."""
    fresh_service.build([
        item("KAY-001", "Touring Kayak 4.3m", "Kayaks", 899, "A stable touring kayak for lakes."),
        item("KAY-002", "Sit-On-Top Kayak", "Kayaks", 599, "A kayak for warm seas and beginners."),
        item("KAY-003", "Inflatable Kayak", "Kayaks", 399, "An inflatable kayak that fits a car boot."),
        item("KAY-004", "Kayak Paddle", "Kayaks", 89, "A light carbon paddle for any kayak."),
        item("KAY-005", "Kayak Spray Deck", "Kayaks", 69, "Keeps water out of the kayak cockpit."),
        item("BAG-001", "Kajak Roll-Top Dry Bag 20L", "Bags", 35,
             "A roll-top dry bag that keeps clothes dry on the water."),
        item("HAT-001", "Wide Brim Sun Hat", "Clothing", 25, "Shades face and neck on the water."),
    ], source="test")
    searcher = fresh_service.searcher()
    assert searcher.corrected("kajak") == "kajak"
    assert searcher.search("kajak", k=1)[0].item.sku == "BAG-001"
    # A typo of the frequent word is still corrected to it.
    assert searcher.corrected("kayk paddle") == "kayak paddle"


# --- the speller on its own: any language, any script -------------------------------------


def test_a_rare_catalogue_word_is_never_replaced_by_a_frequent_one():
    speller = Speller(["Leather boots"] * 8 + ["Rowing boat"])
    assert speller.correct_word("boat") is None
    assert speller.correct_word("boots") is None
    assert speller.correct("rowing boat") == "rowing boat"


def test_equally_near_candidates_go_to_the_more_frequent_word():
    speller = Speller(["Leather boots"] * 8 + ["Toy boats"])
    assert speller.correct_word("bots") == "boots"  # one letter from "boots" and "boats"
    speller = Speller(["Leather boots"] + ["Toy boats"] * 8)
    assert speller.correct_word("bots") == "boats"


def test_short_words_get_one_edit_and_long_words_two():
    speller = Speller(["Waterproof jacket with hood"])
    assert speller.correct_word("jackt") == "jacket"
    assert speller.correct_word("jckt") is None  # two edits: too many for a short word
    assert speller.correct_word("wterprof") == "waterproof"  # two edits in a long word
    assert speller.correct_word("wtrprof") is None  # three
    assert speller.correct_word("hod") is None  # three letters: never corrected


def test_the_callers_veto_is_respected():
    speller = Speller(["Warm gear"], is_word=lambda w: w == "wear")
    assert speller.correct_word("wear") is None
    assert speller.correct_word("geat") == "gear"


def test_other_languages_and_scripts():
    speller = Speller([
        "Wasserdichte Regenjacke für Wanderungen",
        "Зимняя куртка с капюшоном",
        "हिंदी किताब बच्चों के लिए",
        "防水ジャケット 登山用",
    ])
    assert speller.correct("wasserdihte regenjake") == "wasserdichte regenjacke"
    assert speller.correct("зимняя кутрка") == "зимняя куртка"  # Cyrillic, swapped letters
    assert speller.correct("किताब") == "किताब"  # a word with vowel signs is one word, known
    # Japanese is written without spaces: a "word" is a phrase; leave it as typed.
    assert speller.correct("防水ジャケト") == "防水ジャケト"


def test_punctuation_and_spacing_are_kept_as_typed():
    speller = Speller(["Waterproof jacket"])
    assert speller.correct("  Waterprof, JAKET?! ") == "  waterproof, jacket?! "


def test_edit_distance_counts_swaps_as_one_and_stops_early():
    assert edit_distance("headlmap", "headlamp", 2) == 1
    assert edit_distance("jaket", "jacket", 1) == 1
    assert edit_distance("abcdef", "uvwxyz", 2) == 3  # limit + 1: more than allowed


def test_the_candidate_lookup_finds_what_a_brute_force_search_finds():
    """The delete index (with its prefix window) must miss no word within the allowed edits:
    random words over a small alphabet, so near neighbours are everywhere."""
    import random

    from knowledge.spelling import max_edits

    rng = random.Random(14)
    vocabulary = sorted({
        "".join(rng.choice("abcdefgh") for _ in range(rng.randint(3, 12))) for _ in range(300)
    })
    speller = Speller([" ".join(vocabulary)])
    checked = 0
    for _ in range(1500):
        typo = list(rng.choice(vocabulary))
        for _ in range(rng.randint(1, 2)):
            at = rng.randrange(len(typo))
            edit = rng.choice("dist")
            if edit == "d" and len(typo) > 1:
                del typo[at]
            elif edit == "i":
                typo.insert(at, rng.choice("abcdefgh"))
            elif edit == "s":
                typo[at] = rng.choice("abcdefgh")
            elif edit == "t" and at < len(typo) - 1:
                typo[at], typo[at + 1] = typo[at + 1], typo[at]
        query = "".join(typo)
        if query in vocabulary or len(query) < 4:
            continue
        limit = max_edits(query)
        nearest = min(edit_distance(query, word, limit) for word in vocabulary)
        found = speller.correct_word(query)
        if nearest > limit:
            assert found is None, query
        else:
            assert found is not None and edit_distance(query, found, limit) == nearest, query
        checked += 1
    assert checked > 1000
