//! Configuration from environment variables, with local defaults (12-factor).

use std::{net::IpAddr, str::FromStr, time::Duration};

use anyhow::Context;

#[cfg(feature = "service")]
use crate::{auth::AuthConfig, consumer::status::StallSettings};

/// Reads `name`, or `default` when it is unset or empty.
pub fn env_or(name: &str, default: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().to_owned(),
        _ => default.to_owned(),
    }
}

/// Reads and parses `name`, or `default` when it is unset or empty.
pub fn env_parse<T>(name: &str, default: T) -> anyhow::Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={v:?} is not valid: {e}")),
        _ => Ok(default),
    }
}

/// Reads a duration given in milliseconds.
pub fn env_millis(name: &str, default_ms: u64) -> anyhow::Result<Duration> {
    Ok(Duration::from_millis(env_parse(name, default_ms)?))
}

/// What serving HTTP needs (every service, the gateway too).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The service's name.
    pub service: &'static str,
    /// `HOST`: address to listen on (default 127.0.0.1; containers set 0.0.0.0).
    pub host: IpAddr,
    /// `PORT`: port to listen on; 0 picks a free one (tests).
    pub port: u16,
    /// `SHUTDOWN_GRACE_MS`: how long a stop may take, all in (default 6000).
    pub shutdown_grace: Duration,
    /// `HTTP_MAX_BODY_BYTES`: the largest request body accepted, else `413` (default 65536).
    pub max_body_bytes: usize,
}

impl ServerConfig {
    /// Reads the serving settings of `service`, whose local port is `default_port`.
    pub fn from_env(service: &'static str, default_port: u16) -> anyhow::Result<Self> {
        Ok(Self {
            service,
            host: env_parse("HOST", IpAddr::from([127, 0, 0, 1])).context("HOST")?,
            port: env_parse("PORT", default_port)?,
            shutdown_grace: env_millis("SHUTDOWN_GRACE_MS", 6_000)?,
            max_body_bytes: env_parse("HTTP_MAX_BODY_BYTES", 65_536)?,
        })
    }
}

/// Settings every event-driven service reads the same way.
#[cfg(feature = "service")]
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// The service's name, used for its consumer group and its default database file.
    pub service: &'static str,
    /// `HOST`: address to listen on (default 127.0.0.1; containers set 0.0.0.0).
    pub host: IpAddr,
    /// `PORT`: port to listen on; 0 picks a free one (tests).
    pub port: u16,
    /// `DATABASE_URL`: default `sqlite://$DATA_DIR/<service>.db`.
    pub database_url: String,
    /// `DATABASE_MAX_CONNECTIONS`: the Postgres pool's size (default 10; SQLite uses one).
    pub database_max_connections: u32,
    pub kafka: KafkaConfig,
    /// `SHUTDOWN_GRACE_MS`: how long a stop may take, all in (default 6000).
    pub shutdown_grace: Duration,
    /// `CONSUMER_ADMIN_ENABLED`: serve `/admin/consumer` (fault injection; default false).
    pub consumer_admin: bool,
    /// Who may call: `AUTH_MODE`, `AUTH_JWKS_URL`, `AUTH_ISSUER`, ... (see [`AuthConfig`]).
    pub auth: AuthConfig,
    /// `HTTP_MAX_BODY_BYTES`: the largest request body accepted, else `413` (default 65536).
    pub max_body_bytes: usize,
    /// `IDEMPOTENCY_TTL_SECS`: how long an `Idempotency-Key` is kept (default 86400, 24 h).
    pub idempotency_ttl: Duration,
}

/// How to reach the broker.
#[cfg(feature = "service")]
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// `KAFKA_BROKERS`: bootstrap servers (default 127.0.0.1:9092).
    pub brokers: String,
    /// `KAFKA_TOPIC`: the event topic (default `hifive`).
    pub topic: String,
    /// `KAFKA_PARTITIONS`: partitions when the service creates the topic (default 3).
    pub partitions: i32,
    /// `KAFKA_REPLICATION`: replication factor when the service creates the topic (default 1).
    pub replication: i32,
    /// `KAFKA_GROUP`: consumer group (default: the service's name).
    pub group: String,
    /// `KAFKA_GROUP_INSTANCE_ID`: a stable id for this instance in its group (static
    /// membership), e.g. the service name locally or the pod name of a StatefulSet. A
    /// restarted instance then takes its old place at once instead of waiting for the group
    /// to notice the old one is gone. Unset: dynamic membership.
    pub instance_id: Option<String>,
    /// `KAFKA_DLQ_TOPIC`: where events that cannot be applied go (default `<topic>.dlq`).
    pub dlq_topic: String,
    /// `CONSUMER_MAX_ATTEMPTS`: how many times an event whose effect keeps failing (for a
    /// reason other than the database being unavailable) is tried before it is dead-lettered
    /// (default 5).
    pub max_attempts: u32,
    /// `KAFKA_FETCH_WAIT_MS`: how long the broker may hold a fetch waiting for data (default
    /// 100): lower is quicker, higher costs the broker less.
    pub fetch_wait: Duration,
    /// `CONSUMER_STALL_AFTER_MS` (default 30000): lag that has not moved for this long is a
    /// stall; `CONSUMER_LAG_INTERVAL_MS` (default 5000): how often the lag is sampled.
    pub stall: StallSettings,
    /// `KAFKA_DEBUG`: librdkafka debug contexts, e.g. `cgrp,fetch` (unset: none).
    pub debug: Option<String>,
}

#[cfg(feature = "service")]
impl KafkaConfig {
    /// Settings for a broker at `brokers` with every other value at its default (tools, tests).
    pub fn local(brokers: &str, group: &str) -> Self {
        let topic = shared_events::DEFAULT_TOPIC.to_owned();
        Self {
            brokers: brokers.to_owned(),
            dlq_topic: format!("{topic}.dlq"),
            topic,
            partitions: 3,
            replication: 1,
            group: group.to_owned(),
            instance_id: None,
            max_attempts: 5,
            fetch_wait: Duration::from_millis(100),
            stall: StallSettings::default(),
            debug: None,
        }
    }
}

#[cfg(feature = "service")]
impl CommonConfig {
    /// What [`crate::Server`] needs of it.
    pub fn server(&self) -> ServerConfig {
        ServerConfig {
            service: self.service,
            host: self.host,
            port: self.port,
            shutdown_grace: self.shutdown_grace,
            max_body_bytes: self.max_body_bytes,
        }
    }

    /// Reads the common settings for `service`, whose local port is `default_port`.
    pub fn from_env(service: &'static str, default_port: u16) -> anyhow::Result<Self> {
        let server = ServerConfig::from_env(service, default_port)?;
        let data_dir = env_or("DATA_DIR", "data");
        let database_url = env_or(
            "DATABASE_URL",
            &format!("sqlite://{data_dir}/{service}.db?mode=rwc"),
        );
        let topic = env_or("KAFKA_TOPIC", shared_events::DEFAULT_TOPIC);
        Ok(Self {
            service,
            host: server.host,
            port: server.port,
            database_url,
            database_max_connections: env_parse("DATABASE_MAX_CONNECTIONS", 10)?,
            shutdown_grace: server.shutdown_grace,
            consumer_admin: env_parse("CONSUMER_ADMIN_ENABLED", false)?,
            auth: AuthConfig::from_env()?,
            max_body_bytes: server.max_body_bytes,
            idempotency_ttl: Duration::from_secs(env_parse("IDEMPOTENCY_TTL_SECS", 86_400)?),
            kafka: KafkaConfig {
                brokers: env_or("KAFKA_BROKERS", "127.0.0.1:9092"),
                dlq_topic: env_or("KAFKA_DLQ_TOPIC", &format!("{topic}.dlq")),
                topic,
                partitions: env_parse("KAFKA_PARTITIONS", 3)?,
                replication: env_parse("KAFKA_REPLICATION", 1)?,
                group: env_or("KAFKA_GROUP", service),
                instance_id: Some(env_or("KAFKA_GROUP_INSTANCE_ID", ""))
                    .filter(|id| !id.is_empty()),
                max_attempts: env_parse("CONSUMER_MAX_ATTEMPTS", 5u32)?.max(1),
                fetch_wait: env_millis("KAFKA_FETCH_WAIT_MS", 100)?,
                stall: StallSettings {
                    stall_after: env_millis("CONSUMER_STALL_AFTER_MS", 30_000)?
                        .max(Duration::from_secs(1)),
                    sample_every: env_millis("CONSUMER_LAG_INTERVAL_MS", 5_000)?
                        .max(Duration::from_millis(100)),
                },
                debug: Some(env_or("KAFKA_DEBUG", "")).filter(|d| !d.is_empty()),
            },
        })
    }
}
