fn main() -> anyhow::Result<()> {
    hifive_common::server::main("gateway", || async {
        gateway::App::build(gateway::Config::from_env()?).await
    })
}
