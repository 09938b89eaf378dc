//! The edit sequence both plugins' `edit` commands follow, around the shared editor session
//! ([`crate::editor`]): [`begin`] opens the file (or, for a new file, wraps a fresh data key first,
//! so a key that cannot be used fails before anything is typed); the command shows the documents in
//! the editor its own way; [`finish`] seals the edited documents onto what was opened, keeping the
//! ciphertext of every unchanged value, and replaces the file atomically unless a signal came in.

use crate::file::{open, prepare_new, reseal, seal, Opened, SealSpec};
use crate::keys::KeyRing;
use crate::stores::Store;
use crate::tree::Branch;

use super::{io, CliError};

/// What the edited documents are sealed onto.
pub enum EditBase {
    /// The opened encrypted file.
    File(Opened),
    /// A new file: its data key, already wrapped for the new file's keys.
    New(Opened),
}

/// Opens FILE for editing and returns its documents; a FILE that does not exist starts from
/// `template()` with a data key wrapped for `new_spec(template)` right away.
pub fn begin(
    file: &str,
    store: &dyn Store,
    keys: &KeyRing,
    ignore_mac: bool,
    template: impl FnOnce() -> Result<Vec<Branch>, CliError>,
    new_spec: impl FnOnce(&[Branch]) -> Result<SealSpec, CliError>,
) -> Result<(EditBase, Vec<Branch>), CliError> {
    if std::path::Path::new(file).exists() {
        let input = io::read_input(Some(file))?;
        let mut opened =
            open(&input, store, keys, ignore_mac).map_err(|e| CliError::in_file(file, e))?;
        let docs = std::mem::take(&mut opened.docs);
        return Ok((EditBase::File(opened), docs));
    }
    let docs = template()?;
    let spec = new_spec(&docs)?;
    let prepared = prepare_new(&spec, keys).map_err(|e| CliError::in_file(file, e))?;
    Ok((EditBase::New(prepared), docs))
}

/// Seals the edited `docs` onto `base` (a new file with `new_spec(docs)`, reusing the data key
/// wrapped in [`begin`]), then replaces FILE atomically, unless a signal arrived meanwhile
/// ([`crate::editor::interrupted`]).
pub fn finish(
    file: &str,
    base: EditBase,
    docs: Vec<Branch>,
    store: &dyn Store,
    keys: &KeyRing,
    new_spec: impl FnOnce(&[Branch]) -> Result<SealSpec, CliError>,
) -> Result<(), CliError> {
    let sealed = match base {
        EditBase::File(opened) => reseal(opened, docs),
        EditBase::New(prepared) => {
            let spec = new_spec(&docs)?;
            seal(docs, &spec, keys, Some(prepared))
        }
    }
    .and_then(|(docs, md)| store.emit_encrypted(&docs, &md))
    .map_err(|e| CliError::in_file(file, e))?;
    crate::editor::interrupted(file)?;
    io::write_output(&sealed, Some(file))
}
