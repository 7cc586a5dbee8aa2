//! What customer-center records for `/metrics` (docs/observability.md): how long the view
//! takes to show an assignment. Without a recorder installed this does nothing.

/// The view shows an assignment `age` after the room service made it (the saga's last step,
/// `hifive_saga_step_seconds{step="view"}`).
pub fn view_caught_up(age: chrono::TimeDelta) {
    let seconds = age.num_milliseconds().max(0) as f64 / 1000.0;
    ::metrics::histogram!("hifive_saga_step_seconds", "step" => "view").record(seconds);
}

#[cfg(test)]
mod tests {
    use hifive_common::metrics::testing::{DebugValue, recorded};

    use super::*;

    #[test]
    fn the_view_step_is_timed_in_seconds() {
        let got = recorded(|| {
            view_caught_up(chrono::TimeDelta::milliseconds(1500));
            view_caught_up(chrono::TimeDelta::milliseconds(-3));
        });
        let Some(DebugValue::Histogram(seen)) = got.get("hifive_saga_step_seconds{step=view}")
        else {
            panic!("{got:?}")
        };
        let seen: Vec<f64> = seen.iter().map(|v| v.into_inner()).collect();
        assert_eq!(seen, [1.5, 0.0], "a clock running behind counts as 0");
    }
}
