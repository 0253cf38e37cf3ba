"""The auth service (see README.md beside this file)."""
