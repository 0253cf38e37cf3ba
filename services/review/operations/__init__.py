"""The rules of the review service applied in database transactions, one module per area."""
