"""`kefu channels ...`: helpers for the gateway's channels."""

from __future__ import annotations

import typer

from bot import shop_identity
from crm_store.errors import InvalidInput
from kefu_config.settings import get_settings

app = typer.Typer(help="The gateway's customer channels.", no_args_is_help=True)


@app.command("shop-token")
def shop_token(email: str = typer.Argument(..., help="The logged-in customer's email.")) -> None:
    """Print the identity token a shop puts beside the widget for a logged-in customer.

    The shop's own server computes the same HMAC-SHA256 with KEFU_SHOP_SECRET; this command is
    for trying it out and for shops that want to compare.
    """
    secret = get_settings().shop_secret
    if not secret:
        typer.echo("KEFU_SHOP_SECRET is not set: signed identities are off.", err=True)
        raise typer.Exit(1)
    try:
        typer.echo(shop_identity.sign(secret, email))
    except InvalidInput as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2)
