"""The model's configuration (net/models.py, spec/protocol.md 8.18): the
[models] table of the services file and --model-url, each limit crossed."""
from __future__ import annotations

import pytest

from advm.net.models import MAX_ATTEMPTS, MAX_TIMEOUT_MS, KEY_ENV, ModelConfig
from advm.net.services import ConfigError, ServiceConfig


def models(**table):
    return ServiceConfig.from_dict({"models": {"base_url": "http://127.0.0.1:9/v1", **table}}, "s.toml",
                                   environ={"K": "sk-1"}).models


def test_a_models_table_gives_the_endpoint_the_key_and_the_map():
    m = models(key="env:K", map={"gpt-4o": "local"}, default="small", timeout_ms=500, attempts=2)
    assert (m.base_url, m.key, m.timeout_ms, m.attempts) == ("http://127.0.0.1:9/v1", "sk-1", 500, 2)
    assert (m.model("gpt-4o"), m.model("other"), m.model("")) == ("local", "other", "small")
    assert "sk-1" not in repr(m)


@pytest.mark.parametrize("table, said", [
    ({"timeout_ms": MAX_TIMEOUT_MS + 1}, "timeout_ms is a whole number from 1 to"),
    ({"timeout_ms": 0}, "timeout_ms is a whole number from 1 to"),
    ({"attempts": MAX_ATTEMPTS + 1}, "attempts is a whole number from 1 to"),
    ({"key": "env:MISSING"}, "MISSING, which is not set"),
    ({"colour": "x"}, "unknown key 'colour'"),
    ({"map": {"a": 1}}, "map is a table of model names"),
    ({"base_url": "ftp://x"}, "base_url is an http:// or https:// URL"),
])
def test_a_models_table_past_its_limits_is_refused(table, said):
    with pytest.raises(ConfigError, match=said):
        models(**table)


def test_the_limits_themselves_are_taken():
    m = models(timeout_ms=MAX_TIMEOUT_MS, attempts=MAX_ATTEMPTS)
    assert (m.timeout_ms, m.attempts) == (MAX_TIMEOUT_MS, MAX_ATTEMPTS)


def test_model_url_reads_its_key_from_the_environment():
    m = ModelConfig.from_url("http://127.0.0.1:9/v1", environ={KEY_ENV: "sk-2"})
    assert (m.base_url, m.key) == ("http://127.0.0.1:9/v1", "sk-2")
    assert ModelConfig.from_url("http://127.0.0.1:9/v1", environ={}).key == ""
