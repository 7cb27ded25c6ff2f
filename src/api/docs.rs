//! The two OpenAPI documents and the routes that serve them. The documents are built from the
//! annotations alone (no database), carry no server address (Swagger UI then calls whatever
//! origin served the page), and are committed under `openapi/`.
use poem_openapi::OpenApiService;

use super::admin::{admin_api, AdminApi};
use super::data_series::DataSeriesApi;
use super::sends::SendsApi;
use super::trigger::TriggerApi;

/// The public API: create a send ID, use it in a send, read its analytics.
pub type PublicApi = (SendsApi, TriggerApi, DataSeriesApi);

const SENDS_DESCRIPTION: &str = "A Braze-compatible stand-in for a send identifier's whole life: \
`POST /sends/id/create` creates a send identifier under a campaign, so that messages can be sent \
and tracked per send without creating a campaign for each; `POST /campaigns/trigger/send` sends \
the campaign with it; `GET /sends/data_series` reads its analytics back. Authorize with a REST \
API key that has the operation's permission (`sends.id.create`, `campaigns.trigger.send`, \
`sends.data_series`).";

const ADMIN_DESCRIPTION: &str = "The sendid admin API (not part of Braze): workspaces with their \
daily quota, campaigns, REST API keys, and the send identifiers of a campaign. Authorize with the \
admin token the server was started with (`--admin-token` / `SENDID_ADMIN_TOKEN`).";

pub fn sends_service() -> OpenApiService<PublicApi, ()> {
    OpenApiService::new(
        (SendsApi, TriggerApi, DataSeriesApi),
        "sendid: send identifiers",
        env!("CARGO_PKG_VERSION"),
    )
    .description(SENDS_DESCRIPTION)
}

pub fn admin_service() -> OpenApiService<AdminApi, ()> {
    OpenApiService::new(admin_api(), "sendid admin API", env!("CARGO_PKG_VERSION"))
        .description(ADMIN_DESCRIPTION)
}

/// The public document as committed in `openapi/sends.json` (with a final newline).
pub fn sends_spec() -> String {
    format!("{}\n", sends_service().spec())
}

/// The admin document as committed in `openapi/admin.json` (with a final newline).
pub fn admin_spec() -> String {
    format!("{}\n", admin_service().spec())
}
