"""Pure rules of the ledger on frozen dataclasses: no grpc, sqlalchemy or redis here."""
