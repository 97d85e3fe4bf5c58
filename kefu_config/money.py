"""Money as the shop writes it, in its currency and locale: one function for the chat, the
product cards, campaigns and staff pages (bot/static/format.js does the same in the browser)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from kefu_config.policy import load_policy

# Signs written before the amount in English, after it in the comma languages below; other
# currencies are written with their code ("CHF 1,299.50", "1.299,50 CHF").
CURRENCY_SIGNS = {"EUR": "€", "GBP": "£", "USD": "$", "JPY": "¥", "CNY": "¥", "INR": "₹",
                  "KRW": "₩"}
# Languages that write 1.299,50 € (a decimal comma, the sign after), with the character they
# group thousands with; every other language writes €1,299.50.
_COMMA_LANGUAGES = {"de": ".", "es": ".", "it": ".", "nl": ".", "pt": ".", "da": ".",
                    "tr": ".", "id": ".", "el": ".", "ro": ".", "hr": ".", "sl": ".",
                    "fr": "\u202f", "sv": "\u00a0", "nb": "\u00a0", "fi": "\u00a0",
                    "pl": "\u00a0", "cs": "\u00a0", "sk": "\u00a0", "ru": "\u00a0",
                    "uk": "\u00a0"}
_NO_DECIMALS = {"JPY", "KRW"}


def money(amount: Decimal | float | str, currency: str | None = None,
          locale: str | None = None) -> str:
    """An amount as the shop writes it: money(1299.5, "EUR", "en-GB") is "€1,299.50",
    money(1299.5, "EUR", "de-DE") is "1.299,50 €". Without a currency or locale, the shop's
    own (policy/shop.yml). Text that is not a number stays as it is."""
    if currency is None or locale is None:
        shop = load_policy().shop
        currency, locale = currency or shop.currency, locale or shop.locale_tag
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        return str(amount)
    digits = f"{value:,.{0 if currency in _NO_DECIMALS else 2}f}"
    sign = CURRENCY_SIGNS.get(currency)
    group = _COMMA_LANGUAGES.get(locale.split("-")[0].lower())
    if group is not None:
        whole, _, cents = digits.partition(".")
        digits = whole.replace(",", group) + ("," + cents if cents else "")
        return f"{digits}\u00a0{sign or currency}"
    return f"{sign}{digits}" if sign else f"{currency}\u00a0{digits}"
