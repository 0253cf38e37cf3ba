"""What every TokenMart Core service shares: settings, logging, errors, the gRPC server and
client plumbing, service identity (mTLS and per-method peer allowlists) and database helpers.

Nothing here knows about any one service's domain.
"""
