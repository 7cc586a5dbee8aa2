#[tokio::main]
async fn main() -> anyhow::Result<()> {
    hifive_common::telemetry::init();
    let config = customer_center::Config::from_env()?;
    customer_center::App::build(config).await?.run().await
}
