"""`kefu segments ...` and `kefu campaigns ...`, and the new-product notification hook."""

from __future__ import annotations

import logging

import typer

from crm_store.importers.common import ImportResult

logger = logging.getLogger(__name__)

segments_app = typer.Typer(help="Marketing segments and RFM tiers.", no_args_is_help=True)
campaigns_app = typer.Typer(help="Marketing campaigns.", no_args_is_help=True)


@segments_app.command("refresh")
def refresh_command() -> None:
    """Recompute every customer's RFM tier (recency, frequency, monetary value)."""
    from crm_store.db import session_scope
    from crm_store.services import segments

    with session_scope() as session:
        counts = segments.refresh_rfm(session)
    typer.echo("RFM tiers: " + ", ".join(f"{tier} {n}" for tier, n in counts.items()))


@segments_app.command("list")
def list_command() -> None:
    """Saved segments with their live audience (consenting, reachable customers)."""
    from crm_store.db import session_scope
    from crm_store.services import segments

    with session_scope() as session:
        for segment in segments.list_segments(session):
            count = segments.audience_count(session, segment.rules)
            typer.echo(f"{segment.id}\t{segment.name}\t{count} reachable\t{segment.rules}")


@campaigns_app.command("send-due")
def send_due_command() -> None:
    """Send scheduled campaigns whose time has come (run every few minutes, e.g. from cron).
    The gateway delivers what this queues."""
    from crm_store.db import session_scope
    from marketing.sending import send_due

    with session_scope() as session:
        sent = send_due(session)
        for campaign_id, result in sent.items():
            typer.echo(f"campaign {campaign_id}: {result.queued} queued, {result.capped} over "
                       f"the cap" + (f", waits until {result.deferred_until:%Y-%m-%d %H:%M %Z}"
                                     if result.deferred_until else ""))
    if not sent:
        typer.echo("no campaign due")


@campaigns_app.command("report")
def report_command(campaign_id: int) -> None:
    """Reached, failed, opted out, replies and orders within 7 days."""
    from crm_store.db import session_scope
    from crm_store.errors import NotFound
    from crm_store.services import campaigns

    with session_scope() as session:
        try:
            report = campaigns.report(session, campaign_id=campaign_id)
        except NotFound as exc:
            raise typer.BadParameter(str(exc)) from exc
    for key in ("name", "status", "recipients", "queued", "reached", "failed", "opted_out",
                "replies", "orders", "conversion"):
        typer.echo(f"{key}: {report[key]}")


def notify_after_import(result: ImportResult) -> None:
    """After `kefu import products`: announce each new product to matching, consenting
    customers (cap and quiet hours hold). Runs after the index sync."""
    if not result.added:
        return
    from crm_store.db import session_scope
    from kefu_config.policy import load_policy
    from knowledge.service import get_service
    from marketing.triggered import notify_new_product

    threshold = load_policy().marketing.match_threshold
    embedder = get_service().embedder
    vectors: dict[str, object] = {}

    def encode(texts: list[str]):
        # Interest topics repeat for every product of the import: embed each once.
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in vectors]
        if missing:
            vectors.update(zip(missing, embedder.encode(missing), strict=True))
        return np.stack([vectors[t] for t in texts])
    for sku in result.added:
        with session_scope() as session:
            sent = notify_new_product(session, sku=sku, threshold=threshold, encode=encode)
        typer.echo(f"  new product {sku}: {sent.queued} customers notified"
                   + (f", {sent.capped} over the cap" if sent.capped else "")
                   + (f", waits for the end of the quiet hours ({sent.deferred_until:%H:%M})"
                      if sent.deferred_until else ""))


def refresh_after_import(result: ImportResult) -> None:
    """After `kefu import orders`: RFM tiers follow the new orders."""
    refresh_command()
