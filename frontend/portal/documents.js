// The portal's GraphQL documents (portal.js and portal/*.js; bench/portal_query.py and tests/api/test_query_count.py
// read ORDERS_QUERY from here). This module imports nothing: the others import one another, used only at call time.

export const BACKORDER_FIELDS = `
  id status quantity backorderedQuantity allocatedQuantity shippedQuantity cancelledQuantity
  substitutedQuantity queuePosition queueExplanation
  eta { date confidence source }
  preferences { cancelIfNotBy substitutes }
  history { at kind oldValue newValue cause }
  goodwill { id credit { amount currency } discountCode }
  substitutes { product { sku name price { amount currency } } available priceDifference { amount currency }
    exchangeRate { fromCurrency toCurrency rate date } }`;

// $account is false for a sign-in with an order number: that session opens one order and no account
export const ORDERS_QUERY = `query Orders($account: Boolean! = true) {
  viewer { role name customerEmail orderOnly }
  myAccount @include(if: $account) {
    email name preferences { byEmail bySms smsStopped phone quietHoursStart quietHoursEnd timezone language
      cancelIfNotBy substitutes } }
  orders(first: 100) { nodes { id number placedAt channel shipComplete
    total { amount currency }
    lines { id sku quantity allocatedQuantity shippedQuantity unitPrice { amount currency } lineTotal { amount currency }
            product { name } substituteFor { id }
            backorder { ${BACKORDER_FIELDS} } } } }
  supportedLanguages
}`;

export const UPDATES = `subscription Updates { backorderUpdates { kind message backorderId
  oldEtaDate newEtaDate backorder { ${BACKORDER_FIELDS} } } }`;
