#[tokio::main]
async fn main() -> anyhow::Result<()> {
    hifive_common::telemetry::init();
    let config = conference::Config::from_env()?;
    conference::App::build(config).await?.run().await
}
