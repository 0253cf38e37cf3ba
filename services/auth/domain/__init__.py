"""The auth service's rules, as pure functions on frozen dataclasses.

Nothing here touches gRPC, SQL or the network: credentials and their formats, principals and
scopes, access-token claims, passwords and lockout, key limits, sessions, claim codes, identity
tokens, signing keys and pagination. The store persists these values; ``operations`` applies the
rules inside database transactions; ``api`` translates them to and from the wire.
"""
