"""The provider service's rules, as pure functions on frozen dataclasses.

Nothing here touches gRPC, SQL or the network: the model registry's rules and prices, token
estimates and worst-case holds, BYOK envelope encryption and key priority, the two API dialects
(parsing, translation both ways, streaming) and the settlement decisions. The store persists
these values; ``operations`` applies the rules around database transactions and remote calls;
``api`` translates them to and from the wire.
"""
