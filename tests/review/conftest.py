"""The review tests use the fixtures of the review section of ``tests/conftest.py``
(``review_server``, ``start_review_server``, ``world``, ``rows``, ``fresh_review_database``)."""
