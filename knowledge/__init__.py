"""Product knowledge: semantic + lexical search over the catalog, and recommendations.

Importable by the action server (no subprocesses); the model and index load once per process:

    from knowledge import get_service, SearchFilters
    hits = get_service().search("a jacket to keep me dry on hikes", k=5,
                                filters=SearchFilters(in_stock=True))
    recs = recommend_for_customer("ana@example.com", k=5, max_price=Decimal("80"))
    # inside a unit of work of your own (campaigns): the same profile and best sellers
    with session_scope() as session:
        profile, popular = profile_for(session, customer_id), popular_skus(session)
    recs = get_service().recommend(profile, k=3, popular=popular)
    # an anonymous visitor: the request and the shop's best sellers
    with session_scope() as session:
        recs = get_service().recommend(None, occasion="a gift for a runner",
                                       popular=popular_skus(session))

`sync_from_store()` brings the index up to date with crm_store after products change.
"""

from knowledge.catalog import CatalogError, CatalogItem
from knowledge.embedder import EmbeddingModelError
from knowledge.index_store import (
    IndexMissingError,
    IndexModelMismatchError,
    KnowledgeIndexError,
    SyncReport,
)
from knowledge.profiles import CustomerNotFound, popular_skus, profile_for, recommend_for_customer
from knowledge.recommend import CustomerProfile, Interest, Recommendation
from knowledge.search import SearchFilters, SearchHit
from knowledge.service import KnowledgeService, get_service, sync_from_store

__all__ = [
    "CatalogError",
    "CatalogItem",
    "CustomerNotFound",
    "CustomerProfile",
    "EmbeddingModelError",
    "IndexMissingError",
    "IndexModelMismatchError",
    "Interest",
    "KnowledgeIndexError",
    "KnowledgeService",
    "Recommendation",
    "SearchFilters",
    "SearchHit",
    "SyncReport",
    "get_service",
    "popular_skus",
    "profile_for",
    "recommend_for_customer",
    "sync_from_store",
]
