"""Tables (tortoise-orm). Rows only: the rules live in `domain.model`; `domain.store.uow` maps between.

Changing a model means a new migration: `backorder makemigrations` (tortoise's own autodetector),
and the test `test_migrations_match_models` fails until one is written.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Supplier(Model):
    id = fields.CharField(pk=True, max_length=32)
    name = fields.CharField(max_length=200)
    lead_time_days = fields.IntField(default=14)
    deliveries_on_time = fields.IntField(default=0)
    deliveries_late = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "suppliers"


class Product(Model):
    sku = fields.CharField(pk=True, max_length=64)
    name = fields.CharField(max_length=300)
    price = fields.DecimalField(max_digits=12, decimal_places=2)
    currency = fields.CharField(max_length=3)
    backorder_policy = fields.CharField(max_length=16, default="ALLOW")
    backorder_limit = fields.IntField(null=True)
    release_date = fields.DateField(null=True)
    substitutes = fields.JSONField(default=list)
    supplier_id = fields.CharField(max_length=32, null=True, db_index=True)
    lead_time_days = fields.IntField(null=True)
    allocation_policy = fields.CharField(max_length=16, default="PRIORITY", db_default="PRIORITY")
    fair_share_minimum = fields.IntField(null=True)
    customer_cap_per_receipt = fields.IntField(null=True)
    version = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    # the waiting queue in two numbers (backorders with units still to allocate, and those units), kept by
    # every save of the SKU's aggregate: an order joins the tail of a long queue without reading it whole.
    # Null until the aggregate is first saved (the next placement then loads the queue whole).
    waiting_count = fields.IntField(null=True)
    waiting_units = fields.IntField(null=True)
    # the projection every stored ETA and queue position of the SKU's queue follows (`mapping.eta_projection`),
    # written by the save that made it so; a trigger on "backorders" empties it when any row of the queue changes
    # (migration 0018), so a PO change re-projects only the slice it moves without reading the queue to check
    eta_projection = fields.TextField(null=True)
    # what the stored places of the SKU's waiting backorders count from (migration 0029): the place shown is
    # `backorders.queue_position` less this, so a receipt that serves the head moves it instead of every row behind
    place_origin = fields.IntField(default=0, db_default=0)

    class Meta:
        table = "products"


class StockLevel(Model):
    id = fields.IntField(pk=True)
    sku = fields.CharField(max_length=64)
    location = fields.CharField(max_length=32)
    on_hand = fields.IntField(default=0)
    allocated = fields.IntField(default=0)
    safety_stock = fields.IntField(default=0)
    # units received here for a long queue and not yet put away (a `StagedReceipt`'s): not on hand
    staged = fields.IntField(default=0, db_default=0)

    class Meta:
        table = "stock_levels"
        unique_together = (("sku", "location"),)


class PurchaseOrder(Model):
    id = fields.CharField(pk=True, max_length=32)
    number = fields.CharField(max_length=64, unique=True)
    supplier_id = fields.CharField(max_length=32, db_index=True)
    expected_date = fields.DateField()
    # the date as the supplier first promised it (expected_date is the date as last moved); null on purchase
    # orders written before it was kept: their first promise is not known, expected_date stands in
    first_expected_date = fields.DateField(null=True)
    status = fields.CharField(max_length=24, db_index=True)
    location = fields.CharField(max_length=32)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "purchase_orders"


class SupplierDelivery(Model):
    """One purchase order line received (a partial receipt is a row of its own): what suppliers' delay
    distributions and supplierPerformance are read from. Append-only, so concurrent receipts never race."""

    id = fields.IntField(pk=True)
    purchase_order_id = fields.CharField(max_length=32, db_index=True)
    purchase_order_number = fields.CharField(max_length=64)
    supplier_id = fields.CharField(max_length=32)
    sku = fields.CharField(max_length=64)
    quantity = fields.IntField()
    ordered_on = fields.DateField(null=True)  # null for imported history
    first_promised = fields.DateField()
    last_promised = fields.DateField()
    received_on = fields.DateField()
    # derived from the dates, kept so the store counts histograms in SQL the same way on SQLite and PostgreSQL
    delay_days = fields.IntField()
    delay_from_first_days = fields.IntField()
    lead_days = fields.IntField(null=True)

    class Meta:
        table = "supplier_deliveries"
        indexes = (("supplier_id", "sku"), ("received_on", "supplier_id"))


class PurchaseOrderLine(Model):
    id = fields.IntField(pk=True)
    purchase_order_id = fields.CharField(max_length=32, db_index=True)
    sku = fields.CharField(max_length=64, db_index=True)
    quantity = fields.IntField()
    received_quantity = fields.IntField(default=0)

    class Meta:
        table = "purchase_order_lines"
        unique_together = (("purchase_order_id", "sku"),)


class Customer(Model):
    email = fields.CharField(pk=True, max_length=254)
    name = fields.CharField(max_length=200, default="")
    phone = fields.CharField(max_length=20, null=True)
    tier = fields.CharField(max_length=16, default="STANDARD")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "customers"


class Order(Model):
    id = fields.CharField(pk=True, max_length=32)
    number = fields.CharField(max_length=32, unique=True)
    channel = fields.CharField(max_length=16, db_index=True)
    customer_email = fields.CharField(max_length=254, db_index=True)
    placed_at = fields.DatetimeField(db_index=True)
    ship_complete = fields.BooleanField(default=False)
    idempotency_key = fields.CharField(max_length=128, null=True, unique=True)
    version = fields.IntField(default=0)

    class Meta:
        table = "orders"


class OrderLine(Model):
    id = fields.CharField(pk=True, max_length=32)
    order_id = fields.CharField(max_length=32, db_index=True)
    position = fields.IntField()
    sku = fields.CharField(max_length=64, db_index=True)
    quantity = fields.IntField()
    unit_price = fields.DecimalField(max_digits=12, decimal_places=2)
    currency = fields.CharField(max_length=3)
    allocated_quantity = fields.IntField(default=0)
    shipped_quantity = fields.IntField(default=0)
    reserved = fields.JSONField(default=dict)
    backorder_id = fields.CharField(max_length=32, null=True)
    substitute_for = fields.CharField(max_length=32, null=True)
    shipped_from = fields.JSONField(null=True)  # units shipped per location; null: none recorded (older rows)
    # a substitute priced in another currency: its own price and the shop's rate it was converted at
    list_price = fields.DecimalField(max_digits=12, decimal_places=2, null=True)
    list_currency = fields.CharField(max_length=3, null=True)
    exchange_rate = fields.DecimalField(max_digits=18, decimal_places=8, null=True)
    exchange_rate_date = fields.DateField(null=True)

    class Meta:
        table = "order_lines"


class Backorder(Model):
    id = fields.CharField(pk=True, max_length=32)
    order_id = fields.CharField(max_length=32, db_index=True)
    order_line_id = fields.CharField(max_length=32)
    sku = fields.CharField(max_length=64)
    customer_email = fields.CharField(max_length=254, db_index=True)
    customer_tier = fields.CharField(max_length=16)
    channel = fields.CharField(max_length=16)
    ordered_at = fields.DatetimeField()
    quantity = fields.IntField()
    original_quantity = fields.IntField()
    allocated_quantity = fields.IntField(default=0)
    shipped_quantity = fields.IntField(default=0)
    cancelled_quantity = fields.IntField(default=0)
    substituted_quantity = fields.IntField(default=0)
    reserved = fields.JSONField(default=dict)
    shipped_from = fields.JSONField(null=True)  # units shipped per location; null: none recorded (older rows)
    status = fields.CharField(max_length=24)
    eta_date = fields.DateField(null=True)
    eta_confidence = fields.CharField(max_length=8, null=True)
    eta_source = fields.CharField(max_length=16, null=True)
    eta_reference = fields.CharField(max_length=64, null=True)
    promised_date = fields.DateField(null=True)
    priority_override = fields.IntField(default=0)
    priority_reason = fields.CharField(max_length=500, null=True)
    order_quantity = fields.IntField(default=1)
    allocation_reason = fields.TextField(null=True)
    queue_position = fields.IntField(null=True)
    # the SKU's demand index (`domain.model.Backorder.demand_to`): waiting units up to and including this one,
    # from the origin `products.eta_projection` records
    demand_to = fields.BigIntField(null=True)
    # the customer's own choices (domain.preferences): the latest date worth waiting for, whether a substitute
    # may be taken for them, and the substitutes they declined (never offered again for this backorder)
    cancel_if_not_by = fields.DateField(null=True)
    substitute_consent = fields.CharField(max_length=24, default="ASK", db_default="ASK")
    declined_substitutes = fields.JSONField(default=list, db_default="[]")
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    version = fields.IntField(default=0)

    class Meta:
        table = "backorders"
        # a range of demand is an index range (`load_slice`); the ones with a "cancel if not by" date and the
        # queue's head and tail in priority order (`TortoiseUnitOfWork._queue_ends`) are index probes, by partial
        # indexes a model cannot declare (migrations 0022, 0027: the queue's holds the waiting backorders only)
        indexes = (("sku", "demand_to"),)


class Location(Model):
    # a place stock is kept: only these codes are accepted where a location is input

    code = fields.CharField(pk=True, max_length=32)
    name = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    # set when the shop retired it and history still refers to it (domain.locations): unknown to every input
    retired_at = fields.DatetimeField(null=True)

    class Meta:
        table = "locations"


class ExchangeRate(Model):
    # the shop's rate from one currency to another (one row per direction), with the day it holds for

    id = fields.IntField(pk=True)
    from_currency = fields.CharField(max_length=3)
    to_currency = fields.CharField(max_length=3)
    rate = fields.DecimalField(max_digits=18, decimal_places=8)
    as_of = fields.DateField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "exchange_rates"
        unique_together = (("from_currency", "to_currency"),)


class BackorderHistory(Model):
    id = fields.IntField(pk=True)
    backorder_id = fields.CharField(max_length=32, db_index=True)
    at = fields.DatetimeField()
    kind = fields.CharField(max_length=16)
    old_value = fields.CharField(max_length=64, null=True)
    new_value = fields.CharField(max_length=64, null=True)
    cause = fields.TextField()  # the cause's kind; before causes were data (cause_data null), the staff's text
    cause_data = fields.TextField(null=True)  # domain.causes.Cause as JSON

    class Meta:
        table = "backorder_history"


class Goodwill(Model):
    """What an agent gave a waiting customer (domain.goodwill): append-only, one row per gesture."""

    id = fields.CharField(pk=True, max_length=32)
    backorder_id = fields.CharField(max_length=32, db_index=True)
    at = fields.DatetimeField()
    agent = fields.CharField(max_length=200)
    credit_amount = fields.DecimalField(max_digits=12, decimal_places=2, null=True)
    credit_currency = fields.CharField(max_length=3, null=True)
    discount_code = fields.CharField(max_length=64, null=True)
    note = fields.TextField()

    class Meta:
        table = "goodwill"


class EventLog(Model):
    """Every domain event, in commit order: the audit trail and the source for live feeds.

    Read in commit order (by id) only; no index on backorder or order: keeping two random-key indexes up to
    date was two thirds of writing a big receipt's 300k rows (bench/README.md). A backorder's story is
    read from `backorder_history`, which is indexed by backorder."""

    id = fields.BigIntField(pk=True)
    kind = fields.CharField(max_length=40)
    occurred_at = fields.DatetimeField()
    backorder_id = fields.CharField(max_length=32, null=True)
    order_id = fields.CharField(max_length=32, null=True)
    sku = fields.CharField(max_length=64, null=True)
    payload = fields.JSONField()

    class Meta:
        table = "event_log"


class ApiToken(Model):
    id = fields.CharField(pk=True, max_length=32)
    name = fields.CharField(max_length=100)
    role = fields.CharField(max_length=16)
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_tokens"


class QueueServe(Model):
    """A receipt at the head of a long first-come-first-served queue, recorded as the range it served.

    Recorded instead of the rows it served whole (issue 15, `domain.model.head.ServeRecord`): the first
    `served_count` waiting ones of the SKU in queue order, up to the one keyed (`last_priority`,
    `last_ordered_at`, `last_id`). Folded into those rows in chunks (`folded_count` so far) afterwards;
    append-only, kept once folded."""

    id = fields.BigIntField(pk=True)
    sku = fields.CharField(max_length=64, db_index=True)
    location = fields.CharField(max_length=32)
    served_at = fields.DatetimeField()
    cause = fields.CharField(max_length=32)
    cause_data = fields.TextField()
    waiting_count = fields.IntField()  # backorders waiting when it was served (each one's reason names it)
    served_count = fields.IntField()
    served_units = fields.IntField()
    last_priority = fields.IntField()
    last_ordered_at = fields.DatetimeField()
    last_id = fields.CharField(max_length=32)
    folded_count = fields.IntField(default=0)
    # what the rows do not say once folded (migration 0028): the first's key, the covered backorders that had units
    # already (JSON [[id, allocated then], ...]); and whether the receipt was told to the outbox and the webhooks,
    # after its commit, by a fan-out of its own (`TortoiseUnitOfWork.tell_served`)
    first_priority = fields.IntField(null=True)
    first_ordered_at = fields.DatetimeField(null=True)
    first_id = fields.CharField(max_length=32, null=True)
    partly = fields.TextField(default="[]", db_default="[]")
    told = fields.BooleanField(default=False, db_default=False)
    # the SKU's place origin when it was served (migration 0029): the place each covered backorder's reason names is
    # its stored place less this (the receipt moves the SKU's origin past the range)
    place_origin = fields.IntField(default=0, db_default=0)
    # the last customer (email, code-point order) its fan-out told, a slice of customers a transaction (migration
    # 0030); NULL: none yet
    told_through = fields.TextField(null=True)

    class Meta:
        table = "queue_serves"


class StagedReceipt(Model):
    """A receipt for a long first-come-first-served queue still being put away, a chunk of backorders a transaction
    (issue 15, `domain.model.head.StagedReceipt`): `units` received at `location` not yet handed out (also in
    `stock_levels.staged`), the receipt's time and cause, how many backorders waited when it came and how many it
    has served. Deleted once its last units are put away."""

    id = fields.BigIntField(pk=True)
    sku = fields.CharField(max_length=64, db_index=True)
    location = fields.CharField(max_length=32)
    units = fields.IntField()
    received_at = fields.DatetimeField()
    cause = fields.CharField(max_length=32)
    cause_data = fields.TextField()
    waiting_count = fields.IntField()
    served_count = fields.IntField(default=0)

    class Meta:
        table = "staged_receipts"
