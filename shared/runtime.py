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

    def __init__(self, settings: Settings, role: str = "") -> None:
        self.settings = settings
        # Named in Redis' CLIENT LIST ("bgr-gateway"), so an operator can count a role's links.
        self.client_name = f"bgr-{role}" if role else None

    @cached_property
    def db(self) -> Database:
        return Database(self.settings)

    @cached_property
    def redis(self) -> redis_lib.Redis:
        # A hung Redis fails a command after 10 s instead of holding a request forever.
        # Bounded: under gevent thousands of requests share REDIS_POOL_MAX connections, each
        # borrowed for one command (a request waits for a free one, up to the same 10 s); no
        # request holds one while it waits for its job (gateway/waiter.py).
        pool = redis_lib.BlockingConnectionPool.from_url(
            self.settings.redis_url, max_connections=self.settings.redis_pool_max, timeout=10,
            socket_connect_timeout=3, socket_timeout=10, health_check_interval=30,
            client_name=self.client_name)
        return redis_lib.Redis(connection_pool=pool)

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
