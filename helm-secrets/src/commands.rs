//! `helm secrets encrypt|decrypt|view|edit` on values files.

use crate::error::Failure;
use crate::settings::Settings;

/// `encrypt [-i] FILE`.
pub fn encrypt(_args: &[String], _s: &Settings) -> Result<(), Failure> {
    Err(Failure::new("encrypt: not implemented yet"))
}

/// `decrypt [-i] FILE`.
pub fn decrypt(_args: &[String], _s: &Settings) -> Result<(), Failure> {
    Err(Failure::new("decrypt: not implemented yet"))
}

/// `view FILE`.
pub fn view(_args: &[String], _s: &Settings) -> Result<(), Failure> {
    Err(Failure::new("view: not implemented yet"))
}

/// `edit FILE`.
pub fn edit(_args: &[String], _s: &Settings) -> Result<(), Failure> {
    Err(Failure::new("edit: not implemented yet"))
}
