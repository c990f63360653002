"""Background work: the transactional outbox, its relay to rq (or inline), handlers, the deadline sweep.

Wiring into the app lives in `gridgov.jobs.setup.init_app`; this package imports nothing at import
time so services can import `gridgov.jobs.outbox` without pulling in rq or the handlers.
"""
