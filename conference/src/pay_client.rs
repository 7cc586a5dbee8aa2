//! The synchronous call to pay (`POST /pays/room_applied`), behind a timeout.

use std::time::Duration;

use hifive_common::{auth::ChargeGrant, http::REQUEST_ID, telemetry};
use serde::{Deserialize, Serialize};
use shared_events::{ConferenceId, ConferenceStatus, PayId, RoomNumber};
use tracing::Instrument;

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

/// The body of `POST /pays/room_applied` (the original's shape).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Charge<'a> {
    conference_id: ConferenceId,
    room_number: RoomNumber,
    conference_status: ConferenceStatus,
    customer: &'a str,
}

/// Pay's answer: `{"status":"Req_complete","payid":"<id>"}` (the original's; the id may also
/// come as a number).
#[derive(Debug, Deserialize)]
pub struct PayAnswer {
    pub status: String,
    pub payid: PayId,
}

impl PayAnswer {
    /// The payment made, if pay says the request is complete.
    pub fn pay_id(&self) -> Option<PayId> {
        (self.status == "Req_complete").then_some(self.payid)
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

    /// Charges the booking; returns the payment id. Pay is idempotent per booking. The call
    /// is a "pay_call" span; pay's request span is its child (`traceparent`).
    pub async fn pay(&self, request: &PayRequest) -> Result<PayId, PayError> {
        let span = tracing::info_span!(
            "pay_call",
            conference_id = request.conference_id.get(),
            otel.kind = "client"
        );
        self.charge(request).instrument(span).await
    }

    async fn charge(&self, request: &PayRequest) -> Result<PayId, PayError> {
        let mut call = self
            .http
            .post(&self.url)
            .header(REQUEST_ID, &request.request_id)
            .json(&Charge {
                conference_id: request.conference_id,
                room_number: request.room_number,
                conference_status: ConferenceStatus::Created,
                customer: &request.customer,
            });
        if let Some(traceparent) = telemetry::traceparent() {
            call = call.header(telemetry::TRACEPARENT, traceparent);
        }
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
            return Err(PayError::Refused(format!("{status}: {}", excerpt(&body))));
        }
        if !status.is_success() {
            return Err(PayError::Unconfirmed(format!("pay answered {status}")));
        }
        let body = response
            .text()
            .await
            .map_err(|e| PayError::Unconfirmed(format!("unreadable answer: {e}")))?;
        parse_pay_id(&body).ok_or_else(|| {
            PayError::Unconfirmed(format!("answer without payid: {}", excerpt(&body)))
        })
    }
}

/// The start of an answer's body, for an error message (a proxy's HTML page can be long).
fn excerpt(body: &str) -> &str {
    const MAX: usize = 200;
    match body.char_indices().nth(MAX) {
        Some((end, _)) => &body[..end],
        None => body,
    }
}

/// Reads `{"status":"Req_complete","payid":"<id>"}` (the original's answer).
pub fn parse_pay_id(body: &str) -> Option<PayId> {
    serde_json::from_str::<PayAnswer>(body).ok()?.pay_id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_original_answer() {
        let twelve = PayId::new(12);
        assert_eq!(
            parse_pay_id(r#"{"status":"Req_complete","payid":"12"}"#),
            twelve
        );
        assert_eq!(
            parse_pay_id(r#"{"status":"Req_complete","payid":12}"#),
            twelve
        );
        assert_eq!(parse_pay_id(r#"{"status":"nope","payid":"12"}"#), None);
        assert_eq!(parse_pay_id(r#"{"status":"Req_complete"}"#), None);
        assert_eq!(
            parse_pay_id(r#"{"status":"Req_complete","payid":"x"}"#),
            None
        );
        assert_eq!(parse_pay_id("not json"), None);
    }

    #[test]
    fn only_unconfirmed_calls_may_have_charged() {
        assert!(PayError::Unconfirmed("timeout".into()).may_have_charged());
        assert!(!PayError::Unreachable("refused".into()).may_have_charged());
        assert!(!PayError::Refused("409".into()).may_have_charged());
    }
}
