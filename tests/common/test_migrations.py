"""Models and migrations never drift apart, and migrating again changes nothing."""

from __future__ import annotations

import pytest

from ops.database import DOMAIN_SERVICES, ServiceDatabase, check, migrate


@pytest.mark.parametrize("service", DOMAIN_SERVICES)
def test_models_match_migrations(
    service: str, service_databases: dict[str, ServiceDatabase]
) -> None:
    check(service_databases[service])


@pytest.mark.parametrize("service", DOMAIN_SERVICES)
def test_migrating_twice_is_a_no_op(
    service: str, service_databases: dict[str, ServiceDatabase]
) -> None:
    migrate(service_databases[service])
    check(service_databases[service])
