"""Settings: parsed from the environment in one place, unsafe defaults refused outside dev."""

from __future__ import annotations

import ipaddress

import pytest

from gateway.app import create_app
from shared.config import ConfigError, Settings

PROD_OK = {"JWT_SECRET_KEY": "x" * 40, "S3_ACCESS_KEY": "prod-access",
           "S3_SECRET_KEY": "prod-secret-key"}


def test_development_allows_the_defaults():
    s = Settings.from_env({"APP_ENV": "development"})
    assert s.is_development and s.jwt_expires_seconds == 3600 and s.model_name == "u2net"


@pytest.mark.parametrize("missing", ["JWT_SECRET_KEY", "S3_ACCESS_KEY", "S3_SECRET_KEY"])
def test_production_refuses_default_secrets(missing):
    env = {k: v for k, v in PROD_OK.items() if k != missing}
    with pytest.raises(ConfigError, match=missing.split("_")[0]):
        Settings.from_env(env)
    Settings.from_env(PROD_OK)  # all three set: fine


def test_short_jwt_secret_refused_in_production():
    with pytest.raises(ConfigError, match="32"):
        Settings.from_env({**PROD_OK, "JWT_SECRET_KEY": "short"})


def test_gateway_refuses_to_start_in_production_with_defaults(monkeypatch):
    monkeypatch.delenv("APP_ENV", raising=False)
    for key in PROD_OK:
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ConfigError):
        create_app()


def test_types_are_parsed_and_errors_name_the_variable():
    s = Settings.from_env({"APP_ENV": "development", "S3_SECURE": "yes",
                           "REQUEST_TIMEOUT_SECONDS": "2.5", "QUEUE_MAX_DEPTH": "7",
                           "INPUT_ALLOW_NETWORKS": "127.0.0.0/8, 10.1.2.3/32"})
    assert s.s3_secure is True and s.request_timeout_seconds == 2.5 and s.queue_max_depth == 7
    assert s.input_allow_networks == (ipaddress.ip_network("127.0.0.0/8"),
                                      ipaddress.ip_network("10.1.2.3/32"))
    with pytest.raises(ConfigError, match="QUEUE_MAX_DEPTH"):
        Settings.from_env({"APP_ENV": "development", "QUEUE_MAX_DEPTH": "many"})
    with pytest.raises(ConfigError, match="S3_SECURE"):
        Settings.from_env({"APP_ENV": "development", "S3_SECURE": "maybe"})
    with pytest.raises(ConfigError, match="TASK_SOFT_TIME_LIMIT"):
        Settings.from_env({"APP_ENV": "development", "TASK_SOFT_TIME_LIMIT": "500"})


def test_models_are_checked_and_the_default_is_always_served():
    s = Settings.from_env({"APP_ENV": "development", "MODEL_NAME": "u2netp",
                           "MODELS": "u2net"})
    assert s.served_models == ["u2netp", "u2net"]
    assert s.worker_queue == "segment.u2netp"
    with pytest.raises(ConfigError, match="MODEL_NAME"):
        Settings.from_env({"APP_ENV": "development", "MODEL_NAME": "birefnet"})
    with pytest.raises(ConfigError, match="MODELS: unknown model 'sam'"):
        Settings.from_env({"APP_ENV": "development", "MODELS": "u2net,sam"})
    with pytest.raises(ConfigError, match="REFINE"):
        Settings.from_env({"APP_ENV": "development", "REFINE": "magic"})
