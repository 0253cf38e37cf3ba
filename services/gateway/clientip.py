"""Who is on the other end: the client address, believing proxies only when configured to.

``X-Forwarded-For`` is written by whoever sends the request, so anyone can claim any address in
it. It is read only when the TCP peer is one of ``TRUSTED_PROXIES``, and then from the right: each
trusted proxy appended the address it saw, so the first address from the right that is not itself
a trusted proxy is the client. Anything to the left of it was written by the client and ignored.
A malformed entry stops the walk at the last address known to be real.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from services.gateway.settings import IpNetwork

UNKNOWN_CLIENT = "unknown"


def client_ip(
    *,
    peer: str | None,
    forwarded_for: Iterable[str],
    trusted_proxies: tuple[IpNetwork, ...],
) -> str:
    """The client's address given the TCP peer and every ``X-Forwarded-For`` header value."""
    if peer is None:
        return UNKNOWN_CLIENT
    if not trusted_proxies or not _is_trusted(peer, trusted_proxies):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    current = peer
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return current
        current = str(address)
        if not _is_trusted(current, trusted_proxies):
            return current
    return current


def _is_trusted(address: str, trusted_proxies: tuple[IpNetwork, ...]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in trusted_proxies)
