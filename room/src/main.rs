#[tokio::main]
async fn main() -> anyhow::Result<()> {
    hifive_common::telemetry::init();
    let config = room::Config::from_env()?;
    room::App::build(config).await?.run().await
}
