#[tokio::main]
async fn main() -> anyhow::Result<()> {
    hifive_common::telemetry::init();
    let config = pay::Config::from_env()?;
    pay::App::build(config).await?.run().await
}
