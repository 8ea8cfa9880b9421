// The agent console's GraphQL documents (agent.js and agent/*.js). They sit in this module, which imports
// nothing, because the screens' modules import one another and build their documents from these at load time.

export const BACKORDER_ROW = `id sku status customerEmail channel orderedAt backorderedQuantity allocatedQuantity
  queuePosition eta { date confidence source purchaseOrderNumber } order { id number }`;

// what a backorder could be swapped for now, with the price difference in the order's currency (null: no exchange rate)
export const SUBSTITUTE_OPTIONS = `substitutes { product { sku name } available priceDifference { amount currency } }`;

export const QUEUE_QUERY = `query Queue($sku: String!) {
  product(sku: $sku) { sku name onHand availableToPromise unitsBackordered leadTimeDays
    stock { location onHand allocated safetyStock availableToPromise }
    supplier { id name } substitutes { sku name availableToPromise }
    queue { ${BACKORDER_ROW} quantity priority priorityReason allocationReason
      preferences { cancelIfNotBy substitutes } declinedSubstitutes ${SUBSTITUTE_OPTIONS} } }
  purchaseOrders(filter: {sku: $sku, status: [OPEN, PARTIALLY_RECEIVED]}, first: 50) {
    nodes { id number expectedDate status location supplier { name }
      lines { sku quantity receivedQuantity outstandingQuantity } } }
  locations { code name }
  reorderSuggestions(filter: {skus: [$sku]}) { suggestions { demandPerDay leadTimeDays leadTimeStdDays
    leadTimeLearned leadTimeDemand safetyStock reorderPoint available onOrder waiting inventoryPosition
    belowReorderPoint suggestedQuantity supplier { id name } } }
}`;

export const MESSAGES = `totalCount pageInfo { hasNextPage endCursor } nodes { id kind channel recipient subject
  status deliveryStatus attempts lastError createdAt sentAt nextAttemptAt }`;

export const CUSTOMER_QUERY = `query Customer($email: String!) {
  orders(filter: {customerEmail: $email}, first: 50) { totalCount nodes { id number placedAt channel shipComplete
    customer { email name phone tier }
    lines { id sku quantity allocatedQuantity shippedQuantity product { name substitutes { sku name availableToPromise } }
      backorder { ${BACKORDER_ROW} quantity shippedQuantity priority preferences { cancelIfNotBy substitutes } declinedSubstitutes
        ${SUBSTITUTE_OPTIONS} } } } }
  customerPreferences(email: $email) { byEmail bySms smsStopped phone quietHoursStart quietHoursEnd timezone language
    consent { emailAt smsAt smsPhone } changes(first: 10) { at by byAgent field oldValue newValue } }
  supportedLanguages
  notifications(filter: {customerEmail: $email}, first: 25) { ${MESSAGES} }
}`;

export const MESSAGES_QUERY = `query Messages($email: String!, $after: String) {
  notifications(filter: {customerEmail: $email}, first: 25, after: $after) { ${MESSAGES} } }`;
