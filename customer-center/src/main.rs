fn main() -> anyhow::Result<()> {
    hifive_common::server::main("customer-center", || async {
        customer_center::App::build(customer_center::config_from_env()?).await
    })
}
