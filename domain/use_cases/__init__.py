"""The use cases, one module per area of the business (catalogue, stock, purchasing, orders, backorders,
...): each use case a function `(deps, ...)` that runs one transaction over a unit of work and ends with
`settle()` of every SKU it touched (allocate what is available to the queue, re-project ETAs, announce
what changed). Helpers they share live in `shared`. `domain.services.BackorderDesk` is the facade callers
use. There is no registry here: a new area is a new module beside these.
"""
