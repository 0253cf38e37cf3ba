"""The review service (see README.md beside this file)."""
