"""CSV importers for the three shop formats. Each validates the whole file first and writes in
one transaction; a file with any bad row raises ImportRejected and writes nothing."""

from crm_store.importers.common import ImportRejected, ImportResult, RowError
from crm_store.importers.customers import import_customers
from crm_store.importers.orders import import_orders
from crm_store.importers.products import import_products

__all__ = ["ImportRejected", "ImportResult", "RowError", "import_customers", "import_orders",
           "import_products"]
