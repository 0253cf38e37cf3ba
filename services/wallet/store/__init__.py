"""SQLAlchemy models and queries of the wallet service (schema ``wallet``)."""
