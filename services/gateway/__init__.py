"""The gateway: TokenMart Core's only internet-facing process.

An ASGI application (FastAPI on uvicorn) that speaks HTTP/JSON to clients and gRPC over mTLS to
the four domain services (auth, wallet, provider, review). It holds no database credentials; it
checks requests at the edge (size, shape, rate), maps every backend status to HTTP through one
table, and answers errors in the envelope of each route family. See ``README.md`` here.
"""
