"""Pure rules of the review service on frozen dataclasses: no grpc, sqlalchemy or I/O."""
