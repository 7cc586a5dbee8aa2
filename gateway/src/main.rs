fn main() -> anyhow::Result<()> {
    hifive_common::server::main(|| async {
        gateway::App::build(gateway::Config::from_env()?).await
    })
}
