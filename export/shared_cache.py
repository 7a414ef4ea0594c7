"""The shared cache's own Redis client, for the counters that Django's cache API counts in two or three round trips
(its incr() asks whether the key exists before it adds), and for reads that can go along with them: one pipeline
here. None on any other cache (each process's memory in development and in most tests), where the callers keep to
Django's API. And the generations that tell a kept entry still good (export/feed_versions.py, feed_access.py)."""
import logging
import uuid
from collections.abc import Iterable

import redis
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError


def redis_client() -> tuple[redis.Redis, RedisCache] | None:
    """The default cache's Redis client and the cache (for its make_and_validate_key()), if it is Redis."""
    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        return None
    # Django makes a client for every call (its setup costs about what a round trip does): one for each
    # cache object here, which is its thread's own, on the same connection pool.
    client = cache.__dict__.get("_shared_client")
    if client is None:
        client = cache.__dict__["_shared_client"] = cache._cache.get_client(write=True)
    return client, cache


def loaded(cache: RedisCache, names: list[str], values: list) -> dict:
    """What a pipeline's MGET of names read, as Django's get_many() gives it: the values found, by name."""
    return {name: cache._cache._serializer.loads(value) for name, value in zip(names, values) if value is not None}


def fresh_generation() -> str:
    """A generation no entry has: an entry kept under another is not used."""
    return uuid.uuid4().hex


def renew_generations(keys: Iterable[str], *, timeout: int | None, unreachable: str, log: logging.Logger) -> None:
    """Each generation key given a new generation, so that no entry kept under its old one is used again; with the
    cache unreachable, what may then outlive the change (unreachable) is said in the caller's log."""
    try:
        cache.set_many({key: fresh_generation() for key in keys}, timeout=timeout)
    except RedisError:
        log.exception("The cache is unreachable: %s", unreachable)
