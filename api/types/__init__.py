"""GraphQL object types, one module per feature (catalogue, purchasing, orders, backorders, kpis, viewer) with
what they share in `common` and list prefetching in `prefetch`. This module is their public face: it
re-exports every name callers use, so `from api import types as gt` and `gt.Backorder` keep working.

Each type wraps a domain object (never an ORM row); related objects come through the request's DataLoaders,
so a list of N things costs a fixed number of statements. Customers read the same types as staff, less the
shop's internals (exact stock, purchase order numbers, tiers, priorities) and with history written for them.
"""

from api.ids import encode_id
from api.types.backorders import (
    Backorder,
    BackorderPreferences,
    Eta,
    Goodwill,
    HistoryEntry,
    HistoryKind,
    SubstituteOption,
    history_entries,
)
from api.types.catalogue import InboundSupply, Product, StockLevel, Supplier
from api.types.common import (
    AllocationPolicy,
    BackorderPolicy,
    BackorderStatus,
    Channel,
    Connection,
    Ctx,
    CustomerTier,
    Edge,
    ErrorCode,
    EtaConfidence,
    EtaSourceEnum,
    ExchangeRate,
    Location,
    Money,
    PageInfo,
    PurchaseOrderStatus,
    SubstituteConsent,
    UnitsAtLocation,
    UserError,
    reader_is_staff,
    update_message,
    visible_to_customer,
)
from api.types.kpis import AgeBucket, Kpis
from api.types.orders import Customer, Order, OrderLine
from api.types.prefetch import Path, prefetch, selected_paths
from api.types.purchasing import PurchaseOrder, PurchaseOrderLine
from api.types.viewer import Viewer

__all__ = [
    "AgeBucket", "AllocationPolicy", "Backorder", "BackorderPolicy", "BackorderPreferences", "BackorderStatus",
    "Channel", "Connection", "Ctx", "Customer", "CustomerTier", "Edge", "ErrorCode", "Eta", "EtaConfidence",
    "EtaSourceEnum", "ExchangeRate", "Goodwill", "HistoryEntry", "HistoryKind", "InboundSupply", "Kpis",
    "Location", "Money",
    "Order", "OrderLine", "PageInfo", "Path", "Product", "PurchaseOrder", "PurchaseOrderLine",
    "PurchaseOrderStatus", "StockLevel", "SubstituteConsent", "SubstituteOption", "Supplier", "UnitsAtLocation",
    "UserError", "Viewer", "encode_id", "history_entries", "prefetch", "reader_is_staff", "selected_paths",
    "update_message", "visible_to_customer",
]
