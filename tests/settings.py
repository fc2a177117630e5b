"""Settings for the test suite: the app's own settings, fed fixed test values through the environment.

The environment still wins, so CI points the same suite at MariaDB with MYSQL_HOST=127.0.0.1.
"""

import os

os.environ["ARESBOT_ENV_FILE"] = ""  # a developer's .env must not leak into the tests
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-that-is-long-enough-for-the-check-0123456789")
os.environ.setdefault("ENCRYPTION_KEY", "6b" * 32)
os.environ.setdefault("TIME_ZONE", "Asia/Shanghai")
# Redis database 14: the tests flush what they use, so they stay off the default database 0.
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("SQLITE_PATH", "/tmp/aresbot-test.sqlite3")
os.environ.setdefault("STATIC_ROOT", "/tmp/aresbot-test-static")
os.makedirs(os.environ["STATIC_ROOT"], exist_ok=True)

from aresbot.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests

if str(DATABASES["default"]["ENGINE"]).endswith("sqlite3"):  # noqa: F405
    # A file, not memory: the runtime tests start RQ workers in other processes that must see the same data.
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("SQLITE_TEST_PATH", "/tmp/aresbot-test-db.sqlite3")}  # noqa: F405
