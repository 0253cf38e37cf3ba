"""SQLAlchemy models and queries of the auth service (schema ``auth``)."""
