"""The provider service (see README.md beside this file)."""
