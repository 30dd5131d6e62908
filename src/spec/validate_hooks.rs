//! TODO(issue 9): per-field checks of `[[hooks]]` entries.

use super::probe::HookSpec;
use super::validate::Check;
use crate::error::Result;

pub(super) fn validate_hook(_c: &Check, _i: usize, _h: &HookSpec) -> Result<()> {
    Ok(())
}
