//! `/metrics` in the Prometheus text format: requests by route and status, latency, group-commit
//! batch sizes and flush times, and quota used per workspace.
use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use super::error::AllowIndex;
use crate::store::FlushObserver;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    flush_batch: Histogram,
    flush_seconds: Histogram,
    flush_failures: IntCounter,
    quota_used: IntGaugeVec,
    /// 1 while the store can write, 0 while writes fail (a full disk); and how often it failed.
    storage_writable: prometheus::IntGauge,
    storage_faults: IntCounter,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let registry =
            Registry::new_custom(Some("sendid".into()), None).expect("valid registry prefix");
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route template, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer, by route template",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
            &["route"],
        )
        .expect("valid metric");
        let flush_batch = Histogram::with_opts(
            HistogramOpts::new("group_commit_batch_size", "Writers released by one flush")
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
        )
        .expect("valid metric");
        let flush_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "group_commit_flush_seconds",
                "Time of one flush (fsync included)",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1,
            ]),
        )
        .expect("valid metric");
        let flush_failures =
            IntCounter::new("group_commit_flush_failures_total", "Flushes that failed")
                .expect("valid metric");
        let quota_used = IntGaugeVec::new(
            Opts::new(
                "quota_used_today",
                "New send identifiers created today (UTC), by workspace",
            ),
            &["workspace"],
        )
        .expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(flush_batch.clone()),
            Box::new(flush_seconds.clone()),
            Box::new(flush_failures.clone()),
            Box::new(quota_used.clone()),
        ] {
            registry.register(c).expect("metric registered once");
        }
        let storage_writable = prometheus::IntGauge::new(
            "storage_writable",
            "1 while the store can make writes durable, 0 while they fail (503)",
        )
        .expect("valid metric");
        storage_writable.set(1);
        let storage_faults = IntCounter::new(
            "storage_write_faults_total",
            "Times the store stopped being able to write (each lasting until it recovered)",
        )
        .expect("valid metric");
        registry
            .register(Box::new(storage_writable.clone()))
            .expect("metric registered once");
        registry
            .register(Box::new(storage_faults.clone()))
            .expect("metric registered once");
        Arc::new(Self {
            storage_writable,
            storage_faults,
            registry,
            requests,
            latency,
            flush_batch,
            flush_seconds,
            flush_failures,
            quota_used,
        })
    }

    pub fn quota_used(&self, workspace_id: &str, used: u64) {
        self.quota_used
            .with_label_values(&[workspace_id])
            .set(used.min(i64::MAX as u64) as i64);
    }

    fn observe_request(&self, route: &str, method: &str, status: StatusCode, elapsed: Duration) {
        self.requests
            .with_label_values(&[route, method, status.as_str()])
            .inc();
        self.latency
            .with_label_values(&[route])
            .observe(elapsed.as_secs_f64());
    }

    pub fn render(&self) -> Response {
        let mut buf = Vec::new();
        let encoder = TextEncoder::new();
        match encoder.encode(&self.registry.gather(), &mut buf) {
            Ok(()) => Response::builder()
                .content_type(encoder.format_type())
                .body(with_log_drops(buf)),
            Err(e) => {
                super::error::json_error(StatusCode::INTERNAL_SERVER_ERROR, format!("metrics: {e}"))
            }
        }
    }
}

/// The log's dropped lines, counted by the log's writer since the process started (it exists
/// before any registry does).
fn with_log_drops(mut buf: Vec<u8>) -> Vec<u8> {
    let dropped = crate::telemetry::sink::dropped_lines();
    buf.extend_from_slice(
        format!(
            "# HELP sendid_log_lines_dropped_total Log lines not written: the log's sink was \
             full, closed or too slow\n# TYPE sendid_log_lines_dropped_total counter\n\
             sendid_log_lines_dropped_total {dropped}\n"
        )
        .as_bytes(),
    );
    buf
}

impl FlushObserver for Metrics {
    fn flushed(&self, batch: usize, elapsed: Duration, ok: bool) {
        self.flush_batch.observe(batch as f64);
        self.flush_seconds.observe(elapsed.as_secs_f64());
        if !ok {
            self.flush_failures.inc();
        }
    }

    fn writable(&self, cause: Option<&str>) {
        self.storage_writable.set(i64::from(cause.is_none()));
        if cause.is_some() {
            self.storage_faults.inc();
        }
    }
}

/// Counts and times every request, labelled by documented route template (or `other`).
pub struct RequestMetrics {
    pub metrics: Arc<Metrics>,
    pub routes: AllowIndex,
}

impl<E: Endpoint> Middleware<E> for RequestMetrics {
    type Output = RequestMetricsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RequestMetricsEndpoint {
            inner: ep,
            metrics: self.metrics.clone(),
            routes: self.routes.clone(),
        }
    }
}

pub struct RequestMetricsEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
    routes: AllowIndex,
}

impl<E: Endpoint> Endpoint for RequestMetricsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let route = self
            .routes
            .route(req.uri().path())
            .map_or("other", |(template, _)| template)
            .to_string();
        let method = req.method().clone();
        let resp = match self.inner.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        self.metrics
            .observe_request(&route, method.as_str(), resp.status(), started.elapsed());
        Ok(resp)
    }
}
