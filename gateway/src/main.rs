#[tokio::main]
async fn main() -> anyhow::Result<()> {
    hifive_common::telemetry::init();
    let config = gateway::Config::from_env()?;
    gateway::App::build(config).await?.run().await
}
