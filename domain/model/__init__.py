"""The business model's public face: products, stock per location, suppliers and purchase orders, orders
with lines, backorders with their state machine, and `SkuInventory`, the aggregate that owns one SKU's
stock and waiting queue. Each lives in its own module here; import them from `domain.model`, which
re-exports every public name (so `from domain.model import X` does not depend on the layout).
"""

from domain.allocation import PriorityPolicy
from domain.errors import NothingToShip
from domain.eta import Confidence, Eta, EtaSource, InboundSupply
from domain.model.backorder import ACTIVE_STATUSES, Backorder, BackorderStatus, HistoryEntry
from domain.model.checks import MAX_QUANTITY, check_email, check_quantity, check_sku
from domain.model.customer import Customer, CustomerTier
from domain.model.head import (
    Behind,
    HeadRange,
    Served,
    ServedWhole,
    ServeRecord,
    StagedReceipt,
    Waiting,
    record_range,
    served_whole_by,
)
from domain.model.ids import ORDER_NUMBER_ALPHABET, new_id, readable_number
from domain.model.inventory import QueueAhead, SkuInventory
from domain.model.money import Money
from domain.model.order import Channel, Order, OrderLine
from domain.model.product import BackorderPolicy, Product
from domain.model.purchase_order import PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatus
from domain.model.stock import DEFAULT_LOCATION, StockLevel
from domain.model.supplier import Supplier

__all__ = [
    "ACTIVE_STATUSES",
    "DEFAULT_LOCATION",
    "MAX_QUANTITY",
    "ORDER_NUMBER_ALPHABET",
    "Backorder",
    "Behind",
    "BackorderPolicy",
    "BackorderStatus",
    "Channel",
    "Confidence",
    "Customer",
    "CustomerTier",
    "Eta",
    "EtaSource",
    "HistoryEntry",
    "InboundSupply",
    "Money",
    "ServeRecord",
    "HeadRange",
    "record_range",
    "served_whole_by",
    "Served",
    "ServedWhole",
    "NothingToShip",
    "Order",
    "OrderLine",
    "PriorityPolicy",
    "Product",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "PurchaseOrderStatus",
    "QueueAhead",
    "StagedReceipt",
    "SkuInventory",
    "StockLevel",
    "Supplier",
    "Waiting",
    "check_email",
    "check_quantity",
    "check_sku",
    "new_id",
    "readable_number",
]
