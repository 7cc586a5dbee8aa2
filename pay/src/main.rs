fn main() -> anyhow::Result<()> {
    hifive_common::server::main("pay", || async {
        pay::App::build(pay::Config::from_env()?).await
    })
}
