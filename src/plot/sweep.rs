//! A sweep's charts (to come: each final metric against each swept value with a ±std
//! band, and every run's training curve overlaid).

use crate::error::Result;
use crate::sweep::report::SettingSummary;
use crate::sweep::RunList;

pub fn write_charts(_list: &RunList, _metrics: &[String], _settings: &[SettingSummary]) -> Result<()> {
    Ok(())
}
