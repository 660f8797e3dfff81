"""docker-compose.yml must run PostgreSQL with exactly the embedded cluster's settings."""

import yaml
from conftest import REPO

from runner.db import database


def compose_settings() -> dict[str, str]:
    service = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["postgres"]
    command = service["command"]
    assert command[0] == "postgres"
    flags = command[1:]
    assert flags[::2] == ["-c"] * (len(flags) // 2), "every setting is passed as -c name=value"
    return dict(value.split("=", 1) for value in flags[1::2])


def test_compose_applies_the_same_settings_as_the_embedded_cluster():
    assert compose_settings() == database.read_settings()


def test_compose_service_is_postgres_15_on_loopback_with_the_benchmark_database():
    service = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["postgres"]
    assert service["image"].startswith("postgres:")
    assert int(service["image"].split(":")[1]) >= 13
    assert service["environment"]["POSTGRES_DB"] == database.DB_NAME
    assert all(port.startswith("127.0.0.1:") for port in service["ports"])


def test_settings_cover_what_the_benchmark_needs():
    settings = database.read_settings()
    assert int(settings["max_connections"]) >= 500
    assert settings["shared_preload_libraries"] == "pg_stat_statements"
    assert settings["pg_stat_statements.track"] == "all"
    assert settings["pg_stat_statements.track_utility"] == "on"
