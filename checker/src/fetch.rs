//! Reading a [`Snapshot`] through the gateway, every page of every collection.

use serde::Deserialize;
use serde_json::Value;

use crate::Snapshot;

impl Snapshot {
    /// Reads every collection (all pages) through the gateway at `base`, as a room manager
    /// (`token`: a bearer token with the `manager` role, who sees every booking and payment).
    pub async fn fetch(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<Self> {
        Ok(Self {
            bookings: all(http, base, token, "/conferences", "conferences").await?,
            payments: all(http, base, token, "/pays", "pays").await?,
            rooms: all(http, base, token, "/rooms", "rooms").await?,
            room_states: all(http, base, token, "/roomStates", "roomStates").await?,
        })
    }
}

async fn all<T: for<'de> Deserialize<'de>>(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    rel: &str,
) -> anyhow::Result<Vec<T>> {
    let base = base.trim_end_matches('/');
    let mut items = Vec::new();
    let mut page = 0;
    loop {
        let url = format!("{base}{path}?page={page}&size=1000");
        let response = http.get(&url).bearer_auth(token).send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        anyhow::ensure!(status.is_success(), "GET {url} answered {status}: {body}");
        if let Some(list) = body["_embedded"][rel].as_array() {
            for item in list {
                items.push(
                    serde_json::from_value(item.clone())
                        .map_err(|e| anyhow::anyhow!("GET {url}: unexpected item {item}: {e}"))?,
                );
            }
        }
        let pages = body["page"]["totalPages"].as_i64().unwrap_or(0);
        page += 1;
        if page >= pages {
            return Ok(items);
        }
    }
}
