"""The fault-injection soak (issue 7): ``python -m bench.soak [--duration S] [--seed N]``.

Mixed load through the gateway (logins, inference through the stand-in upstream, transfers with
``Idempotency-Key`` retries, bounties with claims, submissions and peer review) while an
injector kills each process with SIGKILL and restarts it, restarts Redis, and terminates every
PostgreSQL connection of the stack's roles. Afterwards every invariant of THREATS.md that the
run can exercise is checked against what the clients saw, through the API and with read-only
SQL, and printed as ``INVARIANT <threats> <name>: OK (details)``; the exit status is non-zero if
any fails.

Bounded in time and count, loopback only: the stack (:mod:`ops.localstack`) runs on free
loopback ports against a fresh database that is dropped afterwards, with a Redis of its own
(:mod:`bench.soak.redis_server`). Modules: ``records`` (what clients saw), ``client`` (the HTTP
client and its retry rule), ``population`` (the market), ``load`` (the workers), ``faults``
(the injector), ``settle`` (replays and drains), ``verify`` (the invariants), ``run`` (one run
and its summary).
"""
