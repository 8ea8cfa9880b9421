"""The GraphQL schema, composed: each root field is one line naming the feature module that implements it.

One module per feature: `catalogue` (products, suppliers, stock), `purchasing` (purchase orders), `orders`,
`backorders` (and the KPIs), `portal` (customer sign-in and preferences), `notifications`, `tokens`, `viewer`,
`webhooks` (outbound webhook endpoints and their deliveries), `planning` (what-if previews, reorder advice),
`suppliers` (suppliers' delivery record);
`reference_data` (the shop's locations and exchange rates);
`subscriptions` (the live `backorderUpdates`); `execution` (the executor, request limits, error masking);
`common` (the `user_errors` payload wrapper, paging, ownership). Feature modules import `common`, never this
module (import-linter checks it).

To add a field: write it in its feature module (a module-level `@strawberry.field` / `@strawberry.mutation`),
then list it below. The order here is the order in `schema.graphql`.
"""

from __future__ import annotations

import strawberry

from api.schema import backorders as backorder_fields
from api.schema import catalogue as catalogue_fields
from api.schema import execution
from api.schema import goodwill as goodwill_fields
from api.schema import notifications as notification_fields
from api.schema import orders as order_fields
from api.schema import planning as planning_fields
from api.schema import portal as portal_fields
from api.schema import preferences as preference_fields
from api.schema import purchasing as purchasing_fields
from api.schema import reference_data as reference_fields
from api.schema import suppliers as supplier_fields
from api.schema import tokens as token_fields
from api.schema import viewer as viewer_fields
from api.schema import webhooks as webhook_fields
from api.schema.subscriptions import Subscription
from api.settings import Settings


@strawberry.type
class Query:
    viewer = viewer_fields.viewer
    product = catalogue_fields.product
    products = catalogue_fields.products
    order = order_fields.order
    order_by_number = order_fields.order_by_number
    customers = order_fields.customers
    orders = order_fields.orders
    backorder = backorder_fields.backorder
    backorders = backorder_fields.backorders
    purchase_order = purchasing_fields.purchase_order
    purchase_orders = purchasing_fields.purchase_orders
    kpis = backorder_fields.kpis
    supplier_performance = supplier_fields.supplier_performance
    kpi_series = planning_fields.kpi_series
    preview_allocation = planning_fields.preview_allocation
    preview_reprioritization = planning_fields.preview_reprioritization
    reorder_suggestions = planning_fields.reorder_suggestions
    my_account = portal_fields.my_account
    customer_preferences = portal_fields.customer_preferences
    supported_languages = portal_fields.supported_languages
    notifications = notification_fields.notifications
    notification = notification_fields.notification
    api_tokens = token_fields.api_tokens
    webhook_endpoints = webhook_fields.webhook_endpoints
    webhook_deliveries = webhook_fields.webhook_deliveries
    locations = reference_fields.locations
    exchange_rates = reference_fields.exchange_rates


@strawberry.type
class Mutation:
    upsert_product = catalogue_fields.upsert_product
    upsert_supplier = catalogue_fields.upsert_supplier
    receive_stock = catalogue_fields.receive_stock
    adjust_stock = catalogue_fields.adjust_stock
    create_purchase_order = purchasing_fields.create_purchase_order
    update_purchase_order = purchasing_fields.update_purchase_order
    receive_purchase_order = purchasing_fields.receive_purchase_order
    place_order = order_fields.place_order
    cancel_backorder = backorder_fields.cancel_backorder
    accept_substitute = backorder_fields.accept_substitute
    set_shipping_preference = order_fields.set_shipping_preference
    ship_allocated = order_fields.ship_allocated
    reprioritize_backorder = backorder_fields.reprioritize_backorder
    set_backorder_preferences = preference_fields.set_backorder_preferences
    decline_substitute = preference_fields.decline_substitute
    request_portal_link = portal_fields.request_portal_link
    customer_portal_link = portal_fields.customer_portal_link
    redeem_portal_link = portal_fields.redeem_portal_link
    sign_in_with_order = portal_fields.sign_in_with_order
    sign_out = portal_fields.sign_out
    update_notification_preferences = portal_fields.update_notification_preferences
    retry_notification = notification_fields.retry_notification
    subscribe_to_product = notification_fields.subscribe_to_product
    offer_substitute = notification_fields.offer_substitute
    offer_goodwill = goodwill_fields.offer_goodwill
    create_api_token = token_fields.create_api_token
    revoke_api_token = token_fields.revoke_api_token
    sign_in_with_api_token = token_fields.sign_in_with_api_token
    create_webhook_endpoint = webhook_fields.create_webhook_endpoint
    update_webhook_endpoint = webhook_fields.update_webhook_endpoint
    delete_webhook_endpoint = webhook_fields.delete_webhook_endpoint
    redeliver_webhook = webhook_fields.redeliver_webhook
    upsert_location = reference_fields.upsert_location
    retire_location = reference_fields.retire_location
    upsert_exchange_rate = reference_fields.upsert_exchange_rate


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    return execution.Schema(query=Query, mutation=Mutation, subscription=Subscription,
                             extensions=execution.extensions(settings or Settings()),
                             execution_context_class=execution.PlainFieldsExecutionContext)


__all__ = ["Mutation", "Query", "build_schema"]
