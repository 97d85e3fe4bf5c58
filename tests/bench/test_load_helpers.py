"""The load test's own arithmetic (bench.load): its options, percentiles, answer checks and
the lost count.

The load test itself needs the whole stack and the whole machine; these check, in
milliseconds, the parts whose mistakes would make its figures lie.
"""

from __future__ import annotations

import pytest

from bench.load.audit import NO_REPLY_RECEIVED, NO_REPLY_STORED, NOT_STORED, Audit, judge
from bench.load.customers import ConversationRecord
from bench.load.figures import LevelResult, TurnResult, percentile, table
from bench.load.options import parse_args
from bench.load.scripts import DemoOrder, Turn, kefu_conversation


def test_levels_and_conversations_per_level():
    args = parse_args(["--levels", "10,50,200", "--conversations", "3,2,1"])
    assert args.levels == [10, 50, 200] and args.conversations == [3, 2, 1]
    assert parse_args(["--levels", "4,8"]).conversations == [2, 2]


@pytest.mark.parametrize("argv", [["--levels", "10,0"], ["--levels", "ten"],
                                  ["--levels", "2,4", "--conversations", "1,2,3"],
                                  ["--url", "http://127.0.0.1:8000"]])
def test_bad_options_are_refused_with_a_reason(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(argv)
    assert exit_.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_percentiles_interpolate_between_ranks():
    values = [0.1 * n for n in range(1, 101)]  # 0.1 .. 10.0
    assert percentile(values, 50) == pytest.approx(5.05)
    assert percentile(values, 99) == pytest.approx(9.901)
    assert percentile([3.0], 95) == 3.0
    assert percentile([], 50) is None


def test_table_columns_line_up():
    lines = table(["a", "long header"], [[1, 2], [333, 4]]).splitlines()
    assert len({len(line) for line in lines}) == 1
    assert lines[0].startswith("| a ") and "long header" in lines[0]


def test_a_tracking_answer_must_name_the_order():
    verify = kefu_conversation(DemoOrder("A1178", "emma.hughes@example.com"))[2]
    assert verify.text == "emma.hughes@example.com"
    assert verify.answered_right("Your order A1178 was shipped with Royal Mail.", 0)
    assert not verify.answered_right("I couldn't find an order with that number.", 0)
    product = Turn("product", "a jacket?", ("€",), products=True)
    assert not product.answered_right("It costs €99.00", 0)  # no product cards
    assert product.answered_right("It costs €99.00", 1)


def _record(sent, replies, channel="rest", received=()):
    return ConversationRecord(channel, "c1", sent=list(sent), replies=list(replies),
                              received_ids=set(received))


def test_every_message_stored_and_answered_is_not_lost():
    audit = Audit()
    judge(_record(["hi", "A1178"], [1, 2]),
          [(1, "in", "hi"), (2, "out", "Hello"), (3, "in", "A1178"), (4, "out", "x"),
           (5, "out", "y")], audit)
    assert (audit.checked, audit.lost, audit.undelivered) == (2, 0, 0)


def test_each_way_of_losing_a_message_is_counted_with_its_reason():
    audit = Audit()
    # The second message was never stored.
    judge(_record(["hi", "where is it"], [1, 1]), [(1, "in", "hi"), (2, "out", "Hello")], audit)
    # Stored, but no reply stored before the next message.
    judge(_record(["hi", "bye"], [1, 1]),
          [(1, "in", "hi"), (2, "in", "bye"), (3, "out", "Bye")], audit)
    # Stored and answered in the store, but the customer got nothing.
    judge(_record(["hi"], [0]), [(1, "in", "hi"), (2, "out", "Hello")], audit)
    assert audit.lost == 3
    assert audit.reasons == {NOT_STORED: 1, NO_REPLY_STORED: 1, NO_REPLY_RECEIVED: 1}
    assert any("'where is it'" in example for example in audit.examples)


def test_a_web_reply_stored_but_never_received_is_undelivered():
    audit = Audit()
    judge(_record(["hi"], [1], channel="web", received={2}),
          [(1, "in", "hi"), (2, "out", "Hello"), (3, "out", "How can I help?")], audit)
    assert audit.lost == 0 and audit.undelivered == 1


def test_wrong_answers_are_grouped_and_apart_from_unavailable_and_errors():
    said = "oliver.smith@example.org"
    turns = [TurnResult("order_verify", "rest", "a", said, 0.2, 1, reply_text="Sorry?"),
             TurnResult("order_verify", "web", "b", said, 0.3, 1, reply_text="Sorry?"),
             TurnResult("greeting", "rest", "c", "hello", 0.1, 1, right=True),
             TurnResult("greeting", "rest", "d", "hello", 0.1, 1, unavailable=True),
             TurnResult("greeting", "web", "e", "hello", None, error="web: closed")]
    level = LevelResult("Kefu", 5, 1, 2.0, turns, lost=0)
    assert (level.wrong, level.unavailable, level.errors) == (2, 1, 1)
    assert level.wrong_answers() == {("order_verify", said): (2, "Sorry?")}
    assert level.throughput == pytest.approx(2.0)  # 4 answered turns in 2 s


def test_cpu_per_turn_counts_a_process_and_everything_it_started():
    # On a shared machine turns/s measures the neighbours too; the CPU seconds of the
    # system's own process tree per turn do not (bench/load/cpu.py).
    import subprocess
    import sys
    import time

    from bench.load.cpu import tree_cpu_seconds

    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 2.0: pass\n"
    parent = subprocess.Popen([sys.executable, "-c",
                               f"import subprocess, sys; subprocess.run([sys.executable, '-c', "
                               f"{burn!r}]); import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        used = 0.0
        while time.monotonic() < deadline and used < 0.5:
            time.sleep(0.1)
            used = tree_cpu_seconds(parent.pid) or 0.0
        # the grandchild's 2 s are counted while it runs (not once it has exited)
        assert used >= 0.5
    finally:
        parent.kill()
        parent.wait()
    assert tree_cpu_seconds(parent.pid) is None  # gone: nothing to read

    turns = [TurnResult("greeting", "rest", "a", "hi", 0.1, 1, right=True)] * 4
    level = LevelResult("Kefu", 1, 1, 1.0, turns, lost=0, cpu_seconds=0.2)
    assert level.cpu_per_turn == pytest.approx(0.05)
    assert level.to_json()["cpu_s_per_turn"] == pytest.approx(0.05)
