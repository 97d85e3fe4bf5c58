"""The gateway killed (kill -9) after it stored a customer's message and before it answered:
started again, it answers that message exactly once, on REST, Telegram and the web widget;
two replicas killed and started at once still answer each message once (bot/recovery.py).

Rasa is reached through a proxy the test holds: the message is stored, Rasa never answers, and
the gateway is killed while it waits, which is exactly the moment a deploy or an OOM kill hits.
"""

from __future__ import annotations

import json
import threading
import uuid

import httpx
import pytest
from websockets.sync.client import connect

from kefu.stack import gateway_spec
from tests.conftest import free_port
from tests.faults.conftest import FaultStack, chats, new_sender, wait_for

pytestmark = pytest.mark.e2e


def _post_in_background(url: str, sender: str, text: str, message_id: str) -> threading.Thread:
    def post() -> None:
        try:  # the gateway dies under it: the integration sees a broken connection
            httpx.post(f"{url}/webhooks/rest/webhook", timeout=60,
                       json={"sender": sender, "message": text, "message_id": message_id})
        except httpx.HTTPError:
            pass
    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


def _unanswered_stored(stack: FaultStack, channel: str, external_id: str, text: str) -> bool:
    messages = stack.store.messages(channel, external_id)
    return any(m.text == text and m.unanswered_since is not None for m in messages)


def _frames(ws, until, timeout: float = 60.0) -> list[dict]:
    seen: list[dict] = []
    while not until(seen):
        seen.append(json.loads(ws.recv(timeout=timeout)))
    return seen


def _crash_and_restart(stack: FaultStack, names: list[str]) -> None:
    for name in names:
        stack.kill(name)
    # What the dead gateway had sent towards Rasa is dropped with its connections.
    stack.rasa_proxy.cut()
    stack.rasa_proxy.restore()
    for name in names:
        stack.start(name)


def test_a_message_stored_before_the_gateway_died_is_answered_once_after_restart(stack):
    api, store = stack.bot_api, stack.store
    sender, chat = new_sender("crash"), next(chats)
    ws_url = stack.gateway_url.replace("http://", "ws://") + "/ws/chat"
    with connect(ws_url) as ws:
        ws.send(json.dumps({"type": "hello", "session": None}))
        session = _frames(ws, lambda seen: seen and seen[-1]["type"] == "welcome")[-1]["session"]

    stack.rasa_proxy.hold()
    try:
        posting = _post_in_background(stack.gateway_url, sender, "hello", "m-1")
        api.push_text(chat, "hello")
        with connect(ws_url) as ws:
            ws.send(json.dumps({"type": "hello", "session": session}))
            _frames(ws, lambda seen: seen and seen[-1]["type"] == "welcome")
            ws.send(json.dumps({"type": "message", "client_id": "c-1", "text": "hello"}))
            _frames(ws, lambda seen: seen and seen[-1]["type"] == "ack")
        for channel, external_id in (("rest", sender), ("telegram", str(chat)),
                                     ("web", session)):
            wait_for(lambda: _unanswered_stored(stack, channel, external_id, "hello"),
                     what=f"the {channel} message stored and waiting for Rasa")
        assert store.outbound_texts("rest", sender) == []
        _crash_and_restart(stack, ["gateway"])
    finally:
        stack.rasa_proxy.restore()
    posting.join(60)

    # REST: the answer waits where the integration collects later messages.
    answer = wait_for(lambda: store.outbound_texts("rest", sender), timeout=90,
                      what="the REST message answered after the restart")
    assert any("I'm Kefu" in text for text in answer), answer
    fetched = httpx.get(f"{stack.gateway_url}/webhooks/rest/messages",
                        params={"sender": sender}, timeout=30).json()
    assert [m.get("text") for m in fetched] == answer
    # Telegram: the chat gets the answer.
    api.wait_for(lambda: any("I'm Kefu" in t for t in api.texts(chat)), timeout=90,
                 what="the Telegram answer after the restart")
    # Web: the widget coming back gets it in its history.
    web_answer = wait_for(lambda: store.outbound_texts("web", session), timeout=90,
                          what="the web message answered after the restart")
    with connect(ws_url) as ws:
        ws.send(json.dumps({"type": "hello", "session": session}))
        welcome = _frames(ws, lambda seen: seen and seen[-1]["type"] == "welcome")[-1]
    history = [m["text"] for m in welcome["history"] if m["sender"] == "bot"]
    assert history[-len(web_answer):] == web_answer

    # Exactly once: a resend of the same message, and more sweeps, add nothing.
    resent = stack.rest(sender, "hello", message_id="m-1")
    assert resent.status_code == 200 and resent.json() == []
    api.push_text(chat, "/help")  # a later message proves the gateway moved on
    api.wait_for(lambda: any("/human" in t for t in api.texts(chat)), what="the help text")
    assert store.outbound_texts("rest", sender) == answer
    # One greeting (the /help text introduces Kefu too: not counted).
    assert len([t for t in api.texts(chat) if "I'm Kefu" in t and "/human" not in t]) == 1
    assert store.outbound_texts("web", session) == web_answer
    for channel, external_id in (("rest", sender), ("telegram", str(chat)), ("web", session)):
        assert store.inbound_texts(channel, external_id).count("hello") == 1


def test_two_replicas_killed_and_started_at_once_answer_each_message_once(stack):
    store = stack.store
    spec = gateway_spec(stack.settings.model_copy(update={"gateway_port": free_port()}))
    # The same settings as the first gateway (its store, the Rasa proxy), but not Telegram:
    # one poller per bot. Its own port, so its own name in the leases.
    spec.env.update({k: v for k, v in stack.specs["gateway"].env.items()
                     if k not in ("KEFU_TELEGRAM_TOKEN", "KEFU_TELEGRAM_API_URL",
                                  "KEFU_GATEWAY_PORT", "KEFU_REPLICA_NAME")})
    stack.specs["gateway-2"] = spec
    stack.start("gateway-2")
    second_url = spec.health_url.rsplit("/", 1)[0]
    senders = {stack.gateway_url: new_sender("replica-a"), second_url: new_sender("replica-b")}
    try:
        stack.rasa_proxy.hold()
        try:
            threads = [_post_in_background(url, sender, "hello", uuid.uuid4().hex)
                       for url, sender in senders.items()]
            for sender in senders.values():
                wait_for(lambda: _unanswered_stored(stack, "rest", sender, "hello"),
                         what="each replica's message stored")
            _crash_and_restart(stack, ["gateway", "gateway-2"])
        finally:
            stack.rasa_proxy.restore()
        for thread in threads:
            thread.join(60)
        for sender in senders.values():
            answer = wait_for(lambda: store.outbound_texts("rest", sender), timeout=90,
                              what="each message answered after both restarts")
            assert any("I'm Kefu" in text for text in answer), answer
        # Both replicas sweep every second; a few sweeps later still one answer each.
        stack.says(senders[stack.gateway_url], "/help")
        for sender in senders.values():
            greetings = [t for t in store.outbound_texts("rest", sender)
                         if "I'm Kefu" in t and "/human" not in t]  # not the /help text
            assert len(greetings) == 1
    finally:
        stack.stop("gateway-2")
