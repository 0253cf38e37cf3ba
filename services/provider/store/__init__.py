"""SQLAlchemy models and queries of the provider service (schema ``provider``)."""
