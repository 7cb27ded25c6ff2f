//! Every route of the service and the layers around them: the public operation, the admin API,
//! their documents and Swagger UI pages, `/health` and `/metrics`.
use poem::endpoint::make_sync;
use poem::http::{Method, StatusCode};
use poem::middleware::CatchPanic;
use poem::web::{Data, Json, Redirect};
use poem::{get, Endpoint, EndpointExt, IntoResponse, Response, Route};

use super::access_log::AccessLog;
use super::docs::{admin_service, sends_service};
use super::error::{json_error, AllowIndex, JsonErrors};
use super::metrics::RequestMetrics;
use super::sandbox_layer::{FaultLayer, Recorder, SandboxOff};
use super::security::{AdminGate, SendsGate};
use super::AppState;

/// Every route of the service, with its layers.
pub fn routes(state: AppState) -> impl Endpoint<Output = Response> {
    let sends = sends_service();
    let admin = admin_service();
    let allow = AllowIndex::from_specs(&[sends.spec(), admin.spec()])
        .add("/health", &[Method::GET])
        .add("/metrics", &[Method::GET])
        .add("/docs", &[Method::GET])
        .add("/openapi.json", &[Method::GET])
        .add("/openapi.yaml", &[Method::GET]);
    let admin_enabled = state.admin_token.is_some();
    let metrics = state.metrics.clone();
    let access_log = AccessLog {
        routes: allow.clone(),
    };
    let request_metrics = RequestMetrics {
        metrics: state.metrics.clone(),
        routes: allow.clone(),
    };

    let mut route = Route::new()
        .at("/", get(make_sync(|_| Redirect::see_other("/docs"))))
        .at("/health", get(health))
        .at("/metrics", get(make_sync(move |_| metrics.render())))
        .nest("/docs", swagger_ui(sends_service))
        .at("/openapi.json", get(sends.spec_endpoint()))
        .at("/openapi.yaml", get(sends.spec_endpoint_yaml()))
        .nest_no_strip("/sends", public(&state))
        .nest_no_strip("/campaigns", public(&state));
    let admin_docs = Route::new()
        .nest("/admin/docs", swagger_ui(admin_service))
        .at("/admin/openapi.json", get(admin.spec_endpoint()))
        .at("/admin/openapi.yaml", get(admin.spec_endpoint_yaml()));
    let admin_all = if admin_enabled {
        let admin = match state.sandbox {
            Some(_) => admin.boxed(),
            None => SandboxOff {
                inner: admin.boxed(),
            }
            .boxed(),
        };
        admin_docs.nest_no_strip("/admin", admin).boxed()
    } else {
        admin_docs.boxed()
    };
    route = route.nest_no_strip(
        "/admin",
        AdminGate {
            inner: admin_all,
            state: state.clone(),
        },
    );
    let recorder = Recorder {
        sandbox: state.sandbox.clone(),
        store: state.store.clone(),
    };
    route
        .data(state)
        .with(JsonErrors { allow })
        .with(recorder)
        .with(request_metrics)
        .with(
            CatchPanic::new()
                .with_handler(|_| json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")),
        )
        .with(access_log)
}

/// The public operations behind their gate (and the sandbox's fault layer when it is on): one
/// instance per path prefix they live under (`/sends`, `/campaigns`).
fn public(state: &AppState) -> impl Endpoint<Output = Response> {
    let sends = sends_service();
    SendsGate {
        inner: match &state.sandbox {
            Some(sandbox) => FaultLayer {
                inner: sends.boxed(),
                sandbox: sandbox.clone(),
            }
            .boxed(),
            None => sends.boxed(),
        },
        state: state.clone(),
    }
}

/// The Swagger UI page of a document, built on each request. poem-openapi's `swagger_ui()`
/// renders the page once and keeps it: about 3 MiB of heap per document (the page inlines the
/// 1.4 MB Swagger UI bundle, and the string is built by doubling), 6.4 MiB for the two, held for
/// a page that is rarely opened. Built per request (a few milliseconds), it is freed once sent.
fn swagger_ui<T, F>(service: F) -> impl Endpoint<Output = Response>
where
    F: Fn() -> poem_openapi::OpenApiService<T, ()> + Send + Sync + 'static,
    T: poem_openapi::OpenApi + Send + Sync + 'static,
{
    poem::endpoint::make(move |req: poem::Request| {
        let document = service();
        async move { document.swagger_ui().get_response(req).await }
    })
}

#[poem::handler]
async fn health(state: Data<&AppState>) -> Response {
    match state.store.health().await {
        Ok(()) if state.sandbox.is_some() => Json(serde_json::json!({
            "message": "ok",
            "sandbox": "on: /admin/reset, /admin/clock, /admin/faults and /admin/requests steer this server; for tests only",
        }))
        .into_response(),
        Ok(()) => json_error(StatusCode::OK, "ok"),
        Err(e) => json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("storage is unreachable: {e}"),
        ),
    }
}
