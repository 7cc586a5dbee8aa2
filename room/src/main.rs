fn main() -> anyhow::Result<()> {
    hifive_common::server::main("room", || async {
        room::App::build(room::config_from_env()?).await
    })
}
