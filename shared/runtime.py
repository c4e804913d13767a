"""The connections one process holds, built lazily (after a fork) from one Settings."""

from __future__ import annotations

from functools import cached_property

import redis as redis_lib
from celery import Celery

from shared.celery_app import make_celery
from shared.config import Settings
from shared.credits import Credits
from shared.db import Database
from shared.storage import Storage


class Runtime:
    """Lazily opened clients: nothing connects until first used."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def db(self) -> Database:
        return Database(self.settings)

    @cached_property
    def redis(self) -> redis_lib.Redis:
        # A hung Redis fails a command after 10 s instead of holding a thread forever; the
        # gateway's wait for a result BLPOPs in slices well under that (gateway/api.py).
        return redis_lib.Redis.from_url(
            self.settings.redis_url, socket_connect_timeout=3, socket_timeout=10,
            health_check_interval=30,
            retry_on_timeout=False, max_connections=None)

    @cached_property
    def credits(self) -> Credits:
        return Credits(self.db, self.redis)

    @cached_property
    def storage(self) -> Storage:
        return Storage(self.settings)

    @cached_property
    def celery(self) -> Celery:
        return make_celery(self.settings)

    def close(self) -> None:
        """Release pools (tests and clean shutdowns)."""
        if "db" in self.__dict__:
            self.db.close()
        if "redis" in self.__dict__:
            self.redis.close()
