//! The learning rate at a step: warm-up, then the schedule.

use crate::spec::{ScheduleKind, TrainSpec};

/// lr for 0-based `step` of `total`.
pub fn learning_rate(t: &TrainSpec, step: usize, total: usize) -> f64 {
    if t.warmup > 0 && step < t.warmup {
        return t.lr * (step + 1) as f64 / t.warmup as f64;
    }
    let Some(s) = t.schedule else { return t.lr };
    match s.kind {
        ScheduleKind::Step => {
            // Saturated, not wrapped: past 2^31 decays `as i32` turned negative and the rate exploded.
            let decays = i32::try_from(step / s.every.unwrap_or(1).max(1)).unwrap_or(i32::MAX);
            t.lr * s.gamma.unwrap_or(0.1).powi(decays)
        }
        ScheduleKind::Cosine => {
            let min = s.min_lr.unwrap_or(0.0);
            let span = total.saturating_sub(t.warmup).max(1) as f64;
            let progress = (step.saturating_sub(t.warmup) as f64 / span).min(1.0);
            min + 0.5 * (t.lr - min) * (1.0 + (std::f64::consts::PI * progress).cos())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ScheduleSpec;

    fn spec(schedule: Option<ScheduleSpec>, warmup: usize) -> TrainSpec {
        let mut t: TrainSpec = toml::from_str("loss = \"mse\"\nlr = 0.1\niterations = 10").unwrap();
        t.schedule = schedule;
        t.warmup = warmup;
        t
    }

    #[test]
    fn warmup_then_step_and_cosine() {
        let step = ScheduleSpec { kind: ScheduleKind::Step, every: Some(3), gamma: Some(0.5), min_lr: None };
        let t = spec(Some(step), 0);
        let lrs: Vec<f64> = (0..7).map(|s| learning_rate(&t, s, 10)).collect();
        assert_eq!(lrs, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]);
        let t = spec(None, 4);
        assert_eq!(learning_rate(&t, 0, 10), 0.025);
        assert_eq!(learning_rate(&t, 3, 10), 0.1);
        assert_eq!(learning_rate(&t, 9, 10), 0.1);
        let cos = ScheduleSpec { kind: ScheduleKind::Cosine, every: None, gamma: None, min_lr: Some(0.0) };
        let t = spec(Some(cos), 0);
        assert_eq!(learning_rate(&t, 0, 10), 0.1);
        assert!((learning_rate(&t, 5, 10) - 0.05).abs() < 1e-12);
        assert!(learning_rate(&t, 10, 10).abs() < 1e-12);
    }
}
