"""Prometheus metrics: what requests did, and what the services hold right now.

Request metrics (latency by route template and status, auth outcomes by scheme, error
code and check) are recorded by ``app.observability.requests`` as each request ends.
Everything else is read when the registry is scraped, by ``ServicesCollector``, from the
plain counters the parts keep themselves: ``Authenticator.stats()`` (``auth`` knows
nothing of Prometheus), the live sockets, the event broker and the database pool.

The registry belongs to one application object, not to the process: two applications
in one process (tests) do not share series. ``METRICS`` says where it is served:
docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from app.services import Services

#: Latency buckets in seconds: this API answers in about a millisecond on a quiet
#: machine, so the low end is finer than prometheus-client's default.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Methods get a label of their own; any other (a client can send "FOO") is "OTHER", so
#: a client cannot create series at will. Routes are templates for the same reason.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"


class Metrics:
    """The application's registry, with the metrics recorded per request."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        for standard in (ProcessCollector, PlatformCollector, GCCollector):
            standard(registry=self.registry)
        self._requests = Histogram(
            "http_server_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._auth = Counter(
            "auth_requests",
            "Authentication outcomes: ok, or the RFC error code and the check that refused.",
            ["scheme", "outcome", "check"],
            registry=self.registry,
        )
        self._services: ServicesCollector | None = None

    def observe_request(self, method: str, route: str | None, status: int, seconds: float) -> None:
        self._requests.labels(
            method if method in KNOWN_METHODS else "OTHER", route or UNMATCHED_ROUTE, str(status)
        ).observe(seconds)

    def observe_auth(self, scheme: str, outcome: str, check: str) -> None:
        self._auth.labels(scheme, outcome, check).inc()

    def watch(self, services: Services) -> None:
        """Report ``services``' counters on every scrape, until ``unwatch``."""
        self.unwatch()
        self._services = ServicesCollector(services)
        self.registry.register(self._services)

    def unwatch(self) -> None:
        if self._services is not None:
            self.registry.unregister(self._services)
            self._services = None

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format (version 0.0.4)."""
        return generate_latest(self.registry)


def _counter_by(
    name: str, documentation: str, label: str, counts: Mapping[str, float]
) -> CounterMetricFamily:
    """One counter split by ``label``: a sample for each of ``counts``."""
    counter = CounterMetricFamily(name, documentation, labels=[label])
    for value, count in counts.items():
        counter.add_metric([value], count)
    return counter


class ServicesCollector(Collector):
    """Reads the services' counters at scrape time (no work on the request path)."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def collect(self) -> Iterator[Metric]:
        yield from self._auth()
        yield from self._live()  # feature: live
        yield from self._database()

    def _auth(self) -> Iterator[Metric]:
        stats = self._services.authenticator.stats()
        if stats.token_cache is not None:
            yield _counter_by(
                "auth_token_cache_lookups",
                "Lookups of already verified tokens, by result.",
                "result",
                {"hit": stats.token_cache.hits, "miss": stats.token_cache.misses},
            )
            yield GaugeMetricFamily(
                "auth_token_cache_entries", "Verified tokens cached.", stats.token_cache.size
            )
        fetches = CounterMetricFamily(
            "auth_jwks_fetches",
            "Fetches of an issuer's keys, by outcome.",
            labels=["issuer", "outcome"],
        )
        age = GaugeMetricFamily(
            "auth_jwks_age_seconds", "Age of the key set in use, per issuer.", labels=["issuer"]
        )
        keys = GaugeMetricFamily(
            "auth_jwks_keys", "Signing keys in use, per issuer.", labels=["issuer"]
        )
        for key_set in stats.key_sets:
            fetches.add_metric([key_set.issuer, "ok"], key_set.fetches_ok)
            fetches.add_metric([key_set.issuer, "error"], key_set.fetches_failed)
            keys.add_metric([key_set.issuer], key_set.keys)
            if key_set.age_seconds is not None:
                age.add_metric([key_set.issuer], key_set.age_seconds)
        yield from (fetches, age, keys)
        if stats.replay is not None:
            if stats.replay.size is not None:
                yield GaugeMetricFamily(
                    "auth_dpop_replay_store_entries",
                    "DPoP proof ids remembered.",
                    stats.replay.size,
                )
            yield _counter_by(
                "auth_dpop_replay_refusals",
                "DPoP proofs refused by the replay store: seen before, or store full/down.",
                "reason",
                {"replay": stats.replay.replays, "unavailable": stats.replay.unavailable},
            )
        if stats.nonces is not None:
            yield CounterMetricFamily(
                "auth_dpop_nonces_issued", "DPoP-Nonce values handed out.", stats.nonces.issued
            )
            yield CounterMetricFamily(
                "auth_dpop_nonces_refused",
                "DPoP proofs without a current server nonce.",
                stats.nonces.refused,
            )

    # feature: live begin
    def _live(self) -> Iterator[Metric]:
        live = self._services.live
        yield GaugeMetricFamily(
            "live_connections_open", "Open live-update sockets.", live.open_count
        )
        yield CounterMetricFamily(
            "live_events_sent", "Events written to live-update sockets.", live.events_sent
        )
        yield CounterMetricFamily(
            "live_events_dropped",
            "Events not queued because the socket had fallen too far behind.",
            self._services.broker.fanout.dropped,
        )

    # feature: live end

    def _database(self) -> Iterator[Metric]:
        in_use, most = self._services.database.connections()
        yield GaugeMetricFamily(
            "db_pool_connections_in_use", "Database connections held by a request now.", in_use
        )
        yield GaugeMetricFamily("db_pool_size", "Database connections at most.", most)
