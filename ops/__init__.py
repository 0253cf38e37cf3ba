"""Operational tooling for running TokenMart Core: the dev PKI, database provisioning and
migrations, the embedded PostgreSQL/Redis for a machine with neither, and the process
supervisor behind ``make run``. Services never import this package.
"""
