//! The synchronous call to pay (`POST /pays/room_applied`), behind a timeout.

use std::time::Duration;

use hifive_common::{auth::ChargeGrant, http::REQUEST_ID};
use serde_json::json;

use crate::pay_guard::PayRequest;

#[derive(Debug, thiserror::Error)]
pub enum PayError {
    /// Pay could not be reached: nothing was charged.
    #[error("pay is unreachable: {0}")]
    Unreachable(String),
    /// Pay refused the payment (4xx): nothing was charged.
    #[error("pay refused the payment: {0}")]
    Refused(String),
    /// No answer in time, a 5xx or an unreadable answer: pay may have charged.
    #[error("pay did not confirm the payment: {0}")]
    Unconfirmed(String),
}

impl PayError {
    pub fn may_have_charged(&self) -> bool {
        matches!(self, PayError::Unconfirmed(_))
    }
}

#[derive(Clone)]
pub struct PayClient {
    http: reqwest::Client,
    url: String,
    /// `SERVICE_TOKEN_SECRET`: each call carries a grant for its one booking, signed with it
    /// (none with `AUTH_MODE=off` and no secret).
    secret: Option<String>,
}

impl PayClient {
    pub fn new(base_url: &str, timeout: Duration, secret: Option<String>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            http,
            url: format!("{}/pays/room_applied", base_url.trim_end_matches('/')),
            secret,
        })
    }

    /// Charges the booking; returns the payment id. Pay is idempotent per booking.
    pub async fn pay(&self, request: &PayRequest) -> Result<i64, PayError> {
        let mut call = self
            .http
            .post(&self.url)
            .header(REQUEST_ID, &request.request_id)
            .json(&json!({
                "conferenceId": request.conference_id,
                "roomNumber": request.room_number,
                "conferenceStatus": shared_events::conference_status::CREATED,
                "customer": request.customer,
            }));
        if let Some(secret) = &self.secret {
            let grant = ChargeGrant {
                conference_id: request.conference_id,
                room_number: request.room_number,
                customer: request.customer.clone(),
            };
            call = call.bearer_auth(grant.sign(secret));
        }
        let response = call.send().await.map_err(|e| {
            if e.is_connect() {
                PayError::Unreachable(e.to_string())
            } else {
                PayError::Unconfirmed(e.to_string())
            }
        })?;
        let status = response.status();
        if status.is_client_error() {
            let body = response.text().await.unwrap_or_default();
            return Err(PayError::Refused(format!("{status}: {body}")));
        }
        if !status.is_success() {
            return Err(PayError::Unconfirmed(format!("pay answered {status}")));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| PayError::Unconfirmed(format!("unreadable answer: {e}")))?;
        parse_pay_id(&body)
            .ok_or_else(|| PayError::Unconfirmed(format!("answer without payid: {body}")))
    }
}

/// Reads `{"status":"Req_complete","payid":"<id>"}` (the original's answer).
pub fn parse_pay_id(body: &serde_json::Value) -> Option<i64> {
    if body.get("status")?.as_str()? != "Req_complete" {
        return None;
    }
    match body.get("payid")? {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_original_answer() {
        assert_eq!(
            parse_pay_id(&json!({"status":"Req_complete","payid":"12"})),
            Some(12)
        );
        assert_eq!(
            parse_pay_id(&json!({"status":"Req_complete","payid":12})),
            Some(12)
        );
        assert_eq!(parse_pay_id(&json!({"status":"nope","payid":"12"})), None);
        assert_eq!(parse_pay_id(&json!({"status":"Req_complete"})), None);
    }

    #[test]
    fn only_unconfirmed_calls_may_have_charged() {
        assert!(PayError::Unconfirmed("timeout".into()).may_have_charged());
        assert!(!PayError::Unreachable("refused".into()).may_have_charged());
        assert!(!PayError::Refused("409".into()).may_have_charged());
    }
}
