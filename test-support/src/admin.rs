//! The admin-API client of every suite: tenant setup and the admin calls, over a base URL and a
//! token.

use serde_json::{json, Value};

/// A workspace with a campaign and a key that has `sends.id.create`.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub workspace_id: String,
    pub campaign_id: String,
    pub api_key: String,
    pub key_id: String,
}

/// The admin API of one running sendid.
#[derive(Clone)]
pub struct Admin {
    pub base: String,
    pub token: String,
    pub client: reqwest::Client,
}

impl Admin {
    pub fn new(base: &str, token: &str, client: reqwest::Client) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            client,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("admin request sent")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("admin request sent")
    }

    pub async fn patch(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("admin request sent")
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("admin request sent")
    }

    /// `POST` that must answer 201 with JSON; its body.
    pub async fn created(&self, path: &str, body: &Value) -> Value {
        json_body(self.post(path, body).await, 201, &format!("POST {path}")).await
    }

    /// `GET` that must answer 200 with JSON; its body.
    pub async fn fetched(&self, path: &str) -> Value {
        json_body(self.get(path).await, 200, &format!("GET {path}")).await
    }

    pub async fn create_workspace(&self, name: &str, quota: u64) -> String {
        let ws = self
            .created(
                "/admin/workspaces",
                &json!({"name": name, "daily_send_id_quota": quota}),
            )
            .await;
        ws["id"].as_str().expect("workspace id").to_string()
    }

    /// A campaign in a workspace: with the given id, or a generated one. Returns its id.
    pub async fn campaign(&self, workspace_id: &str, campaign_id: Option<&str>) -> String {
        let body = match campaign_id {
            Some(id) => json!({ "campaign_id": id }),
            None => json!({}),
        };
        let c = self
            .created(
                &format!("/admin/workspaces/{workspace_id}/campaigns"),
                &body,
            )
            .await;
        c["campaign_id"].as_str().expect("campaign id").to_string()
    }

    /// A key with these permissions (and allow-list); the admin answer (the key is in it once).
    pub async fn api_key(
        &self,
        workspace_id: &str,
        permissions: &[&str],
        allowed_ips: Option<&[&str]>,
    ) -> Value {
        let mut body = json!({ "permissions": permissions });
        if let Some(ips) = allowed_ips {
            body["allowed_ips"] = json!(ips);
        }
        self.created(&format!("/admin/workspaces/{workspace_id}/api-keys"), &body)
            .await
    }

    /// A workspace with the given quota, one campaign (with `campaign_id`, or generated) and a
    /// key with `sends.id.create`.
    pub async fn tenant_named(&self, name: &str, quota: u64, campaign_id: Option<&str>) -> Tenant {
        let workspace_id = self.create_workspace(name, quota).await;
        let campaign_id = self.campaign(&workspace_id, campaign_id).await;
        let key = self
            .api_key(&workspace_id, &["sends.id.create"], None)
            .await;
        Tenant {
            workspace_id,
            campaign_id,
            api_key: key["api_key"].as_str().expect("api key").to_string(),
            key_id: key["key_id"].as_str().expect("key id").to_string(),
        }
    }

    pub async fn tenant(&self, quota: u64) -> Tenant {
        self.tenant_named("test", quota, None).await
    }

    /// Quota used today by a workspace, as the admin API reports it.
    pub async fn used_today(&self, workspace_id: &str) -> u64 {
        let ws = self
            .fetched(&format!("/admin/workspaces/{workspace_id}"))
            .await;
        ws["quota"]["used_today"].as_u64().expect("used_today")
    }

    /// Every send id of a campaign, page by page, in creation order.
    pub async fn all_send_ids(&self, workspace_id: &str, campaign_id: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut path = format!(
                "/admin/workspaces/{workspace_id}/campaigns/{campaign_id}/send-ids?limit=1000"
            );
            if let Some(a) = &after {
                path.push_str(&format!("&after={a}"));
            }
            let page = self.fetched(&path).await;
            for item in page["send_ids"].as_array().expect("send_ids") {
                out.push(item["send_id"].as_str().expect("send_id").to_string());
            }
            match page["next"].as_str() {
                Some(n) => after = Some(n.to_string()),
                None => return out,
            }
        }
    }
}

/// Asserts the status and that the body is JSON with a JSON content type; returns the body.
/// `what` names the exchange in the failure message.
pub async fn json_body(resp: reqwest::Response, status: u16, what: &str) -> Value {
    let got = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.text().await.expect("body");
    assert_eq!(got, status, "{what}: unexpected status; body: {text}");
    assert!(
        content_type.starts_with("application/json"),
        "{what}: content type {content_type:?}, body {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"))
}
