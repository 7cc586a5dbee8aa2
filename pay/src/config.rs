//! Pay's settings, read from the environment (README "Configuration").

use hifive_common::{
    CommonConfig,
    config::{env_or, env_parse},
};

use crate::overload::Latency;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `PAY_LATENCY_MS`: simulated processing time per payment, `500` or `400..620` (off).
    pub latency: Option<Latency>,
    /// `PAY_CAPACITY`: payments processed at once; the rest queue (unlimited).
    pub capacity: Option<usize>,
    /// `PAY_ADMIN_ENABLED`: serve `GET/PUT /admin/overload` to change both at run time (false).
    pub admin: bool,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let latency = env_or("PAY_LATENCY_MS", "");
        let common = CommonConfig::from_env("pay", 8082)?;
        common.auth.ensure_users()?;
        common.auth.ensure_service_secret()?;
        Ok(Self {
            common,
            latency: (!latency.is_empty())
                .then(|| {
                    Latency::parse(&latency).map_err(|e| anyhow::anyhow!("PAY_LATENCY_MS: {e}"))
                })
                .transpose()?,
            capacity: Some(env_parse("PAY_CAPACITY", 0usize)?).filter(|n| *n > 0),
            admin: env_parse("PAY_ADMIN_ENABLED", false)?,
        })
    }
}
