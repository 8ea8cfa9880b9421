"""Telling customers and subscribers what changed: a transactional outbox fed by domain events,
coalesced digests, email (aiosmtplib) and SMS (twilio), quiet hours, opt-outs and provider webhooks."""
