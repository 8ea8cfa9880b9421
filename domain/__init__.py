"""Backorder Desk's business: products, stock, purchase orders, orders and the backorder queue."""
