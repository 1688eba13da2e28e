"""/metrics speaks Prometheus (issue 22): what an operator's scraper reads, parsed with
prometheus_client's own parser; the JSON view stays available with ?format=json."""

from __future__ import annotations

import json
import time

import pytest
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from connector import metrics
from connector.entrypoints.app import create_app
from tests.web.test_line_webhook import body_of, post, text_event


@pytest.fixture
def app(config):
    return create_app(config)


def scrape(app, **headers) -> dict[str, dict[tuple, float]]:
    resp = app.test_client().get("/metrics", headers=headers)
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def test_a_scraper_reads_webhooks_by_status_and_their_timing(app):
    before = scrape(app)
    assert post(app.test_client(), body_of(text_event())).status_code == 200
    assert post(app.test_client(), body_of(text_event()), signature="bad").status_code == 401
    after = scrape(app, Accept="text/plain;version=0.0.4;q=0.5,*/*;q=0.1")  # what Prometheus sends
    for status in ("200", "401"):
        grown = value(after, "connector_webhooks_total", status=status) - value(
            before, "connector_webhooks_total", status=status
        )
        assert grown == 1, status
    assert value(after, "connector_webhook_seconds_count") - value(before, "connector_webhook_seconds_count") == 2


def test_queue_depth_backlog_and_dead_letters_are_gauges(app):
    assert post(app.test_client(), body_of(text_event())).status_code == 200
    samples = scrape(app)
    assert value(samples, "connector_backlog", what="events") == 1
    assert value(samples, "connector_queued_jobs") == 1  # the drain job the webhook queued
    assert value(samples, "connector_dead_letters") == 0


def test_the_orgs_api_usage_against_its_daily_limit_and_the_reserve(app):
    rt = app.extensions["connector"]
    rt.store.note_api_usage(4200, 5000, time.time())
    samples = scrape(app)
    assert value(samples, "connector_salesforce_api_used") == 4200
    assert value(samples, "connector_salesforce_api_limit") == 5000
    assert value(samples, "connector_salesforce_api_reserve_share") == rt.settings.salesforce.api_reserve_share
    assert value(samples, "connector_salesforce_api_budget_share") == pytest.approx(4200 / (5000 * 0.8), abs=0.01)
    assert value(samples, "connector_salesforce_paused") == 0


def worker_text(drains: int) -> str:
    registry = CollectorRegistry()
    Counter("connector_drain_jobs", "Drain jobs", ["outcome"], registry=registry).labels("ok").inc(drains)
    return generate_latest(registry).decode()


def test_the_workers_counts_are_added_up_and_a_stopped_workers_leave_the_sum(app):
    rt = app.extensions["connector"]
    now = time.time()
    own = value(scrape(app), "connector_drain_jobs_total", outcome="ok")
    rt.store.put_metrics_snapshot("worker.1:10", worker_text(3), now)
    rt.store.put_metrics_snapshot("worker.2:11", worker_text(4), now)
    assert value(scrape(app), "connector_drain_jobs_total", outcome="ok") == own + 7

    rt.store.put_metrics_snapshot("worker.2:11", worker_text(4), now - 3600)  # it stopped an hour ago
    assert value(scrape(app), "connector_drain_jobs_total", outcome="ok") == own + 3


def test_the_json_view_is_still_there_with_format_json(app):
    resp = app.test_client().get("/metrics?format=json")
    assert resp.mimetype == "application/json"
    body = json.loads(resp.data)
    assert {"backlog", "dead_letters", "queued_jobs", "salesforce_api"} <= set(body)


def test_a_client_that_only_accepts_json_gets_json(app):
    resp = app.test_client().get("/metrics", headers={"Accept": "application/json"})
    assert resp.mimetype == "application/json" and "backlog" in resp.get_json()


def test_call_status_labels_stay_bounded():
    assert metrics.status_of(None, 204) == "2xx"
    assert metrics.status_of(None, 503) == "5xx"
    assert metrics.status_of(TimeoutError()) == "timeout"
    assert metrics.status_of(ConnectionRefusedError()) == "connection"
    assert metrics.status_of(ValueError("customer text here")) == "error"


def test_salesforce_calls_are_counted_by_status(app):
    import responses

    from connector.gateways.salesforce import TimeoutSession

    before = value(scrape(app), "connector_api_calls_total", service="salesforce", status="5xx")
    with responses.RequestsMock() as mock:
        mock.get("https://sf.example.com/services/data", status=503)
        assert TimeoutSession(5).get("https://sf.example.com/services/data").status_code == 503
    after = scrape(app)
    assert value(after, "connector_api_calls_total", service="salesforce", status="5xx") == before + 1
    assert value(after, "connector_api_call_seconds_count", service="salesforce") >= 1
