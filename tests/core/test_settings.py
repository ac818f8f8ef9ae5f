"""Settings: embedded defaults with no environment, real services when DATABASE_URL / REDIS_URL are set."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.process  # each test reads the settings in a fresh interpreter

ROOT = Path(__file__).resolve().parent.parent.parent
PROBE = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "db": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "cache": settings.CACHES["default"]["BACKEND"],
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "broker": settings.CELERY_BROKER_URL,
    "debug": settings.DEBUG,
}))
"""


def probe(tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DEBUG")}
    clean.update(DJANGO_SETTINGS_MODULE="flowgate_site.settings", FLOWGATE_VAR_DIR=str(tmp_path), **env)
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_it_runs_on_embedded_defaults_without_environment(tmp_path):
    found = probe(tmp_path)
    assert found["db"] == "django.db.backends.sqlite3"
    assert found["db_name"] == str(tmp_path / "flowgate.sqlite3")
    assert found["cache"].endswith("LocMemCache")
    assert found["layer"] == "channels.layers.InMemoryChannelLayer"
    assert found["eager"] is True
    assert found["debug"] is True


def test_database_and_redis_urls_switch_to_the_production_shape(tmp_path):
    found = probe(
        tmp_path,
        DATABASE_URL="postgres://flowgate@db.example:5432/flowgate",
        REDIS_URL="redis://cache.example:6379/1",
    )
    assert found["db"] == "django.db.backends.postgresql"
    assert found["cache"] == "django_redis.cache.RedisCache"
    assert found["layer"] == "channels_redis.core.RedisChannelLayer"
    assert found["eager"] is False
    assert found["broker"] == "redis://cache.example:6379/1"


def test_secrets_can_come_from_files(tmp_path):
    secret = tmp_path / "debug"
    secret.write_text("false\n")
    assert probe(tmp_path, DEBUG_FILE=str(secret))["debug"] is False
