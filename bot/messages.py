"""Messages as every channel sees them: plain text plus buttons, product cards and an image.

Rasa answers with REST-channel dicts (`text`, `buttons`, `image`, `custom`); crm_store keeps
the text in `Message.text` and the rest in `Message.payload`. This module converts between
the two and to the JSON the web widget renders. Channels never see Rasa's dicts or ORM rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from kefu_config.money import money

# Telegram's callback data holds 64 bytes and web buttons are read on a phone: keep them short.
MAX_BUTTONS = 10
MAX_BUTTON_TITLE = 64
MAX_PRODUCTS = 10


@dataclass(frozen=True)
class Button:
    title: str
    payload: str

    def to_json(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass(frozen=True)
class ProductCard:
    sku: str
    name: str
    price: str | None = None
    image: str | None = None
    reason: str | None = None
    # What else the customer should know: stock, the description's sentence that answers.
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in {"sku": self.sku, "name": self.name, "price": self.price,
                                  "image": self.image, "reason": self.reason,
                                  "detail": self.detail}.items()
                if v is not None}

    def line(self) -> str:
        """One line of plain text (Telegram, transcripts), with the detail and the reason on
        lines of their own."""
        text = self.name + (f" — {self.price}" if self.price else "")
        return text + "".join(f"\n   {extra}" for extra in (self.detail, self.reason) if extra)


@dataclass(frozen=True)
class Content:
    """What a bot, agent or system message says, independent of any channel."""

    text: str = ""
    buttons: tuple[Button, ...] = ()
    products: tuple[ProductCard, ...] = ()
    image: str | None = None
    # The text was written by the gateway to describe the cards (Rasa sent none); the web
    # widget shows the cards instead of it.
    summary: bool = False
    # (slug, title) of the help article the text was taken from (actions/help_answers.py):
    # staff see which article answered, the dashboard counts such answers.
    article: tuple[str, str] | None = None
    # A customer's photo or file (bot/store.py attachment_json): id, type, name, size, width,
    # height, and the complaint or return it was added to (case), if any. Never a link:
    # links are signed for whoever is shown it (bot/attachments.py).
    attachment: dict[str, Any] | None = None

    @property
    def empty(self) -> bool:
        return not (self.text.strip() or self.buttons or self.products or self.image
                    or self.attachment)

    def payload(self) -> dict[str, Any] | None:
        """What goes into Message.payload (None for plain text)."""
        payload: dict[str, Any] = {}
        if self.buttons:
            payload["buttons"] = [b.to_json() for b in self.buttons]
        if self.products:
            payload["products"] = [p.to_json() for p in self.products]
        if self.image:
            payload["image"] = self.image
        if self.summary:
            payload["summary"] = True
        if self.article:
            payload["article"] = self.article_json()
        if self.attachment:
            payload["attachment"] = dict(self.attachment)
        return payload or None

    def article_json(self) -> dict[str, str] | None:
        """The help article the text came from, as stored and as staff pages show it."""
        return {"slug": self.article[0], "title": self.article[1]} if self.article else None

    @classmethod
    def from_stored(cls, text: str, payload: dict[str, Any] | None) -> Content:
        payload = payload or {}
        return cls(
            text=text or "",
            buttons=tuple(_buttons(payload.get("buttons"))),
            products=tuple(_products(payload.get("products"))),
            image=_url(payload.get("image")),
            summary=bool(payload.get("summary")),
            article=_article(payload.get("article")),
            attachment=_attachment(payload.get("attachment")),
        )

    def text_with_products(self) -> str:
        """The text and a line per product card: what a channel without cards shows (the
        dialogue writes each product once, as a card)."""
        parts = [self.text.strip()] if self.text.strip() and not self.summary else []
        if self.products:
            parts.append("\n".join(f"• {p.line()}" for p in self.products))
        return "\n\n".join(parts)

    def plain_text(self) -> str:
        """Everything as text, for channels without cards (Telegram) and transcripts."""
        parts = [self.text_with_products()] if self.text_with_products() else []
        if self.image:
            parts.append(self.image)
        return "\n\n".join(parts)


@dataclass(frozen=True)
class Signal:
    """A control message from the dialogue that is not shown to the customer."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)


def from_rasa(message: dict[str, Any]) -> tuple[Content, list[Signal]]:
    """One Rasa output dict -> what to show, and any signals (e.g. a handoff request)."""
    signals: list[Signal] = []
    products: list[ProductCard] = []
    article = None
    custom = message.get("custom")
    if isinstance(custom, dict):
        kind = custom.get("type")
        if kind == "products":
            products = _products(custom.get("products"))
        elif kind == "help_article":
            article = _article(custom)
        elif isinstance(kind, str):
            signals.append(Signal(kind, {k: v for k, v in custom.items() if k != "type"}))
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    summary = False
    if products and not text.strip():
        text = "Suggested products:\n" + "\n".join(f"• {p.line()}" for p in products)
        summary = True
    content = Content(text=text, buttons=tuple(_buttons(message.get("buttons"))),
                      products=tuple(products), image=_url(message.get("image")),
                      summary=summary, article=article)
    return content, signals


def _buttons(raw: Any) -> list[Button]:
    if not isinstance(raw, list):
        return []
    buttons = []
    for item in raw[:MAX_BUTTONS]:
        if not isinstance(item, dict):
            continue
        title, payload = item.get("title"), item.get("payload")
        if isinstance(title, str) and title.strip():
            payload = payload if isinstance(payload, str) and payload.strip() else title
            buttons.append(Button(title.strip()[:MAX_BUTTON_TITLE], payload))
    return buttons


def _products(raw: Any) -> list[ProductCard]:
    if not isinstance(raw, list):
        return []
    cards = []
    for item in raw[:MAX_PRODUCTS]:
        if not isinstance(item, dict) or not item.get("sku") or not item.get("name"):
            continue
        cards.append(ProductCard(sku=str(item["sku"]), name=str(item["name"]),
                                 price=_price(item.get("price")), image=_url(item.get("image")),
                                 reason=_text(item.get("reason")),
                                 detail=_text(item.get("detail"))))
    return cards


def from_rasa_replies(messages: list[dict[str, Any]]) -> tuple[list[Content], list[Signal]]:
    """A turn's Rasa outputs -> what to show and the signals. Rasa sends an action's custom
    payload as a message of its own after the text; a help-article source (no text of its own)
    belongs to the text before it, so it is attached there."""
    contents: list[Content] = []
    signals: list[Signal] = []
    for raw in messages:
        content, found = from_rasa(raw)
        signals.extend(found)
        if content.article and content.empty and contents:
            contents[-1] = replace(contents[-1], article=content.article)
        elif not content.empty:
            contents.append(content)
    return contents, signals


def _article(raw: Any) -> tuple[str, str] | None:
    if not isinstance(raw, dict) or not raw.get("slug"):
        return None
    slug = str(raw["slug"])[:200]
    return slug, str(raw.get("title") or slug)[:200]


def _text(raw: Any) -> str | None:
    return str(raw) if raw not in (None, "") else None


def _price(raw: Any) -> str | None:
    """A number in the shop's currency and locale; a price already written stays as it is."""
    if raw is None or raw == "":
        return None
    return money(raw)


def _url(raw: Any) -> str | None:
    """Only http(s) and same-site paths: a `javascript:` URL must never reach an <img>."""
    if not isinstance(raw, str):
        return None
    value = raw.strip()
    if value.startswith(("https://", "http://")) or (value.startswith("/")
                                                     and not value.startswith("//")):
        return value
    return None


@dataclass(frozen=True)
class ChatMessage:
    """A stored message, ready for a channel: the web widget's history, Telegram, staff."""

    id: int
    conversation_id: int
    direction: str  # inbound | outbound
    sender: str  # customer | bot | agent | system
    content: Content
    created_at: datetime
    status: str | None = None
    staff_id: int | None = None
    # The web widget's own id for a customer's message (it resends until acknowledged).
    client_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "sender": self.sender,
            "text": "" if self.content.summary else self.content.text,
            "at": self.created_at.isoformat(),
        }
        if self.content.buttons:
            data["buttons"] = [b.to_json() for b in self.content.buttons]
        if self.content.products:
            data["products"] = [p.to_json() for p in self.content.products]
        if self.content.image:
            data["image"] = self.content.image
        if self.content.article:
            data["article"] = self.content.article_json()
        if self.content.attachment:
            data["attachment"] = dict(self.content.attachment)
        if self.client_id:
            data["client_id"] = self.client_id
        return data


def _attachment(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not isinstance(value.get("id"), int):
        return None
    data = {key: value.get(key) for key in ("id", "type", "name", "size", "width", "height")}
    if isinstance(value.get("case"), str):
        data["case"] = value["case"]  # the complaint or return it was added to
    return data
