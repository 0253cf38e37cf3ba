"""The auth service's operations: the domain rules applied inside database transactions.

Each function takes the :class:`~services.auth.operations.runtime.Runtime` (settings, database,
keyring, clock...), the verified caller where the RPC needs one, and a typed command; it returns
domain values (and, once, any secret it created). Nothing here knows about protobuf or gRPC.
"""
