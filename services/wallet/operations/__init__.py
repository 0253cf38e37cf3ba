"""The wallet's operations: domain rules applied in database transactions, one module per area."""
