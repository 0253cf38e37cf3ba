"""SQLAlchemy models and queries of the review service (schema ``review``)."""
