fn main() -> anyhow::Result<()> {
    hifive_common::server::main(|| async {
        customer_center::App::build(customer_center::Config::from_env()?).await
    })
}
