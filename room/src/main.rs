fn main() -> anyhow::Result<()> {
    hifive_common::server::main(|| async { room::App::build(room::Config::from_env()?).await })
}
