"""The one HTTP client every upstream call shares.

aiohttp with a tuned connector, chosen by measurement (``bench/provider_http_client.py`` prints
both in the same run). Against the stand-in on a 2-CPU machine, 64 concurrent non-streaming
calls: aiohttp 3,242 req/s (p50 17.8 ms, p99 53 ms); httpx with its defaults (100 connections, 20
kept alive) 667 req/s (p50 60 ms, p99 431 ms); httpx with its pool raised to the concurrency
762 req/s (p99 365 ms). httpx's per-request CPU cost, not its pool, is what caps it.

* one ``ClientSession`` per process, created on the serving event loop and closed at shutdown;
* ``limit`` bounds all connections at once and ``limit_per_host`` (0: unbounded) one upstream's;
  idle connections are kept ``keepalive_timeout`` seconds; DNS answers are cached;
* no cookies are kept (``DummyCookieJar``), redirects are not followed (an upstream redirect is
  an upstream failure: a provider key must never be sent to a host we did not configure), and
  no proxy settings are read from the environment.
"""

from __future__ import annotations

import aiohttp

from services.provider.settings import HttpSettings

USER_AGENT = "tokenmart-provider/1"


def create_session(settings: HttpSettings) -> aiohttp.ClientSession:
    """The pooled session; must be called with the serving event loop running."""
    connector = aiohttp.TCPConnector(
        limit=settings.max_connections,
        limit_per_host=settings.max_connections_per_host,
        keepalive_timeout=settings.keepalive_timeout_s,
        ttl_dns_cache=300,
        enable_cleanup_closed=True,
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
        timeout=aiohttp.ClientTimeout(
            total=settings.response_timeout_s,
            connect=settings.connect_timeout_s,
            sock_connect=settings.connect_timeout_s,
        ),
        auto_decompress=True,
        read_bufsize=2**16,
        max_line_size=2**16,
        max_field_size=2**16,
    )
