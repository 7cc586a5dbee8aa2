//! The conference service: bookings. `POST /conferences` pays synchronously through pay,
//! then the saga continues over Kafka (Paid → Assigned → `ASSIGNED`).

pub mod app;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod pay_client;
pub mod pay_guard;
pub mod policy;
pub mod saga_guard;
pub mod store;
pub mod sweeper;

use std::time::Duration;

use hifive_common::Server;

pub use crate::config::Config;
use crate::{
    app::{Booker, Bookings},
    pay_client::PayClient,
    pay_guard::GuardedPay,
    policy::BookingPolicy,
    saga_guard::SagaGuard,
};

/// The schema, for SQLite and for Postgres (chosen by `DATABASE_URL`).
pub static MIGRATIONS: hifive_common::db::Migrations = hifive_common::migrations!();

/// The conference service; `App::build(config)` gives a [`Server`] to `run` (port 0 works).
pub struct App;

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Server> {
        let mut wiring = Server::wire(&config.common, &MIGRATIONS, |_| BookingPolicy).await?;
        let pay_timeout = config.pay_guard.timeout;
        // Built once: every request shares the breaker and the bulkhead.
        let pay = GuardedPay::new(
            PayClient::new(
                &config.pay_url,
                pay_timeout + Duration::from_secs(1),
                config.common.auth.service_secret.clone(),
            )?,
            config.pay_guard.clone(),
        )?;
        let report = pay.clone();
        wiring.report("payCircuitBreaker", http::detail(move || report.report()));
        let saga = SagaGuard::new(
            config.saga,
            wiring.db.clone(),
            wiring.outbox.clone(),
            wiring.consumer(),
        );
        let report = saga.clone();
        wiring.report("sagaAdmission", http::detail(move || report.report()));
        let bookings = Bookings::new(wiring.db.clone(), wiring.outbox.clone());
        let stuck_after = config.stuck_after.max(pay_timeout * 2);
        let booker = Booker::new(
            bookings.clone(),
            pay,
            saga,
            config.retry_after_secs,
            stuck_after,
        );
        wiring.keep_idempotency_keys(config.common.idempotency_ttl);
        let sweeping = bookings.clone();
        let routes = http::routes(http::Api { bookings, booker })
            .merge(hifive_openapi::route(http::openapi::document()));
        let mut server = wiring.serve(routes);
        server.spawn(move |shutdown| sweeper::sweep_stuck(sweeping, stuck_after, shutdown));
        Ok(server)
    }
}
