"""The chaos scenarios reuse the integration fixtures: a fresh nats-server per test and a
`Stack` of real trainjet processes on it."""

from tests.integration.conftest import fresh_nats, stack  # noqa: F401 - fixtures, by name
