"""`kefu knowledge ...` and `kefu recommend`: the product index from the command line."""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

import typer

# Heavy imports (faiss, torch) wait until a command runs, so `kefu run` starts fast.
app = typer.Typer(help="The product index and the help articles: build, sync, search, ask.",
                 no_args_is_help=True)

METHODS = ("hybrid", "rrf", "dense", "lexical")


def _failures() -> tuple[type[Exception], ...]:
    """Errors that mean bad input or a missing/outdated index: a message, not a traceback."""
    from knowledge.catalog import CatalogError
    from knowledge.embedder import EmbeddingModelError
    from knowledge.index_store import KnowledgeIndexError

    return (KnowledgeIndexError, CatalogError, EmbeddingModelError, ValueError)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _price(value: str | None, option: str) -> Decimal | None:
    if value is None:
        return None
    try:
        price = Decimal(value)
    except InvalidOperation:
        _fail(f"{option} {value!r} is not a number")
    if not price.is_finite() or price < 0:
        _fail(f"{option} must be a price of zero or more, not {value}")
    return price


def _source(csv: Path | None):
    from knowledge.sources import CsvSource, StoreSource

    if csv is None:
        return StoreSource()
    if not csv.is_file():
        _fail(f"no such file: {csv}")
    return CsvSource(csv)


CSV_OPTION = typer.Option(
    None, "--csv", help="Index this products CSV instead of the customer store.", dir_okay=False
)


@app.command()
def build(csv: Path | None = CSV_OPTION) -> None:
    """Rebuild the index from scratch (embeds every product)."""
    from knowledge.service import get_service

    service = get_service()
    source = _source(csv)
    try:
        items = source.items()
        if not items:
            _fail(f"the catalog at {source.name} has no products; import some first")
        report = service.build(items, source=source.name, source_state=source.state(), progress=True)
    except _failures() as exc:
        _fail(str(exc))
    typer.echo(f"{report.summary()}\nindex: {service.directory}")


@app.command()
def sync(csv: Path | None = CSV_OPTION) -> None:
    """Bring the index up to date, embedding only new and changed products."""
    from knowledge.service import get_service

    service = get_service()
    try:
        report = service.sync_from_source(_source(csv), progress=True)
    except _failures() as exc:
        _fail(str(exc))
    typer.echo(report.summary())
    _sync_help(None)


HELP_FOLDER = typer.Argument(..., file_okay=False,
                             help="A folder of help articles: one Markdown or HTML file each.")


@app.command("import-help")
def import_help(folder: Path = HELP_FOLDER) -> None:
    """Index the shop's help articles from FOLDER; later syncs follow that folder.

    All or nothing: if any article cannot be read, every such file is named and the current
    index stays as it was.
    """
    if not folder.is_dir():
        _fail(f"no such folder: {folder}")
    if not _sync_help(folder):
        raise typer.Exit(1)


def _sync_help(folder: Path | None) -> bool:
    """Index `folder` (None: the configured or last indexed folder, if there is one)."""
    from knowledge.help_articles import HelpError
    from knowledge.help_service import get_help_service

    service = get_help_service()
    if folder is None and service.source_folder() is None:
        return True  # no help centre yet: nothing to sync
    try:
        report = service.sync(folder, progress=True)
    except HelpError as exc:
        typer.echo(f"error: {exc}", err=True)
        return False
    except _failures() as exc:
        typer.echo(f"error: help articles not indexed: {exc}", err=True)
        return False
    typer.echo(f"{report.summary()}\nhelp articles: {service.source_folder()}")
    return True


def sync_help_after_prepare(demo_loaded: bool) -> None:
    """`kefu prepare`: the configured help folder, else the one indexed before, else the demo
    shop's articles when the demo shop was just loaded (a real shop's store gets no demo help)."""
    from kefu.demo import DEMO_DIR
    from knowledge.help_service import get_help_service

    service = get_help_service()
    if service.source_folder() is not None:
        _sync_help(None)
    elif demo_loaded and (DEMO_DIR / "help").is_dir():
        _sync_help(DEMO_DIR / "help")


@app.command()
def ask(question: str = typer.Argument(..., help="A customer's question."),
        k: int = typer.Option(3, "-k", min=1, max=20, help="How many passages to show.")) -> None:
    """What the help centre answers to QUESTION (the best passages and their scores)."""
    from knowledge.help_service import get_help_service

    service = get_help_service()
    try:
        ranked = service.searcher().ranked(question, k=k)
    except _failures() as exc:
        _fail(str(exc))
    answers = ranked and service.confident(ranked[0])
    verdict = f"answers from {ranked[0].slug}" if answers else "no answer (would offer a person)"
    typer.echo(f"{verdict}; threshold {service.min_score:.2f}")
    for rank, hit in enumerate(ranked, start=1):
        typer.echo(f"{rank:>2}. {hit.score:.3f} (meaning {hit.dense:.3f}, words {hit.lexical:.3f})"
                   f"  {hit.slug}: {hit.passage.heading}")


@app.command()
def info() -> None:
    """What the index holds: model, kind, size, source, when it was built."""
    from knowledge.index_store import read_meta
    from knowledge.service import get_service

    service = get_service()
    meta = read_meta(service.directory)
    if meta is None:
        _fail(f"no product index in {service.directory}; run `kefu knowledge build`")
    for key in ("model", "dimension", "index_kind", "source", "built_at", "updated_at", "fingerprint"):
        typer.echo(f"{key:<12} {meta.get(key)}")
    typer.echo(f"{'products':<12} {len(meta.get('products', []))}")
    typer.echo(f"{'directory':<12} {service.directory}")


def _hits_line(query: str, hits: list) -> str:
    return json.dumps(
        {"query": query, "results": [h.to_dict() for h in hits]}, ensure_ascii=False
    )


@app.command()
def search(
    query: str | None = typer.Argument(None, help="What the customer is looking for."),
    k: int = typer.Option(5, "-k", min=1, max=100, help="How many products."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per query."),
    category: str | None = typer.Option(None, "--category", help="Only this category."),
    min_price: str | None = typer.Option(None, "--min-price"),
    max_price: str | None = typer.Option(None, "--max-price"),
    in_stock: bool = typer.Option(False, "--in-stock", help="Only products in stock."),
    queries: Path | None = typer.Option(
        None, "--queries", help="A file with one query a line ('-' for stdin); JSON lines out.",
        dir_okay=False,
    ),
    method: str = typer.Option("hybrid", "--method", help=f"One of: {', '.join(METHODS)}."),
) -> None:
    """Search the catalog: hybrid dense + BM25 ranking, exact SKUs and names first."""
    from knowledge.search import SearchFilters
    from knowledge.service import get_service

    if (query is None) == (queries is None):
        _fail("give either a QUERY or --queries FILE")
    if method not in METHODS:
        _fail(f"--method must be one of {', '.join(METHODS)}")
    try:
        filters = SearchFilters(
            category=category,
            min_price=_price(min_price, "--min-price"),
            max_price=_price(max_price, "--max-price"),
            in_stock=in_stock,
        )
    except ValueError as exc:
        _fail(str(exc))
    service = get_service()
    try:
        searcher = service.searcher()
        if category and category.casefold() not in {c.casefold() for c in searcher.categories}:
            _fail(f"no category {category!r}; categories: {', '.join(searcher.categories)}")
        if queries is not None:
            lines = sys.stdin if str(queries) == "-" else queries.open(encoding="utf-8")
            with lines:
                for line in lines:
                    text = line.strip()
                    if text:
                        hits = searcher.search(text, k=k, filters=filters, method=method)
                        typer.echo(_hits_line(text, hits))
            return
        hits = searcher.search(query, k=k, filters=filters, method=method)
    except _failures() as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(_hits_line(query, hits))
        return
    if not hits:
        typer.echo("no matching products")
    for rank, hit in enumerate(hits, start=1):
        item = hit.item
        stock = f"{item.stock} in stock" if item.in_stock else "out of stock"
        typer.echo(
            f"{rank:>2}. {item.sku:<12} {item.name:<48} score {hit.score:.3f}  "
            f"{item.price:>8}  {item.category}  ({stock})"
        )


def recommend_command(
    customer: str = typer.Option(..., "--customer", help="The customer's email address."),
    k: int = typer.Option(5, "-k", min=1, max=50, help="How many products."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
    max_price: str | None = typer.Option(None, "--max-price", help="Budget per product."),
    category: str | None = typer.Option(None, "--category"),
    occasion: str | None = typer.Option(
        None, "--occasion", help="What it is for, in the customer's words."
    ),
) -> None:
    """Recommend products to a customer from their interests and purchases, with reasons."""
    from sqlalchemy.exc import SQLAlchemyError

    from knowledge.profiles import CustomerNotFound, recommend_for_customer

    try:
        recs = recommend_for_customer(
            customer, k=k, max_price=_price(max_price, "--max-price"), category=category,
            occasion=occasion,
        )
    except CustomerNotFound as exc:
        _fail(str(exc))
    except _failures() as exc:
        _fail(str(exc))
    except SQLAlchemyError as exc:
        _fail(f"cannot read the customer store: {getattr(exc, 'orig', None) or exc}")
    if as_json:
        typer.echo(
            json.dumps(
                {"customer": customer, "results": [r.to_dict() for r in recs]}, ensure_ascii=False
            )
        )
        return
    if not recs:
        typer.echo("nothing to recommend")
    for rank, rec in enumerate(recs, start=1):
        item = rec.item
        typer.echo(f"{rank:>2}. {item.sku:<12} {item.name:<48} {item.price:>8}  {rec.reason}")


def sync_after_import(result) -> None:
    """Hook for `kefu import products`: bring the index up to date with the store.

    The import itself already succeeded; a failing index sync must not undo it, only say how
    to finish the job.
    """
    from knowledge.service import sync_from_store

    try:
        report = sync_from_store(progress=True)
    except _failures() as exc:
        typer.echo(f"warning: product index not updated: {exc}; run `kefu knowledge sync`", err=True)
        return
    typer.echo(f"product index: {report.summary()}")
