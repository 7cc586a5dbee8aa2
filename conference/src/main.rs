fn main() -> anyhow::Result<()> {
    hifive_common::server::main("conference", || async {
        conference::App::build(conference::Config::from_env()?).await
    })
}
