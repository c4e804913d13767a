"""The gateway's services: what only the gateway calls, kept apart from HTTP.

Here: accounts (users and API keys), admin_ops (operator actions), admin_tokens, audit (the
trail), customer (a customer's own jobs and keys), limits (a user's own limits) and concurrency
(their requests in flight), reports (usage, the ledger export) and pages (keyset cursors).
The HTTP views (gateway/*.py) and the admin CLI (gateway/admin.py) call them; the worker never
does.

A module belongs here when only the gateway (and its CLI, tests or deploy tools) uses it; what
the worker uses too stays in shared/ (the task contract, errors, options, the model catalogue,
settings, credits and the infrastructure clients). A service knows nothing of Flask, click or
HTTP: it takes a Database or Runtime and raises shared.errors. It imports shared/ and other
services only, never a gateway view or the app (gateway/context.py is where views find the
runtime), so no import circle can form.
"""
