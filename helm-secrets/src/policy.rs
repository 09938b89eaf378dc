//! Which values file and key file paths the downloader may open (`HELM_SECRETS_VALUES_ALLOW_*`),
//! for shared hosts such as the Argo CD repo server where the URL comes from an untrusted
//! repository. These checks read the path as written; a key file is checked once more on the file
//! actually opened (`keys::open_key_file`).

use std::path::{Component, Path, PathBuf};

use crate::settings::{Settings, ALLOW_ABSOLUTE_PATH, ALLOW_PATH_TRAVERSAL, ALLOW_SYMLINKS};

/// Checks the values file `file` against the settings. The error is one line naming the file and
/// the variable that would allow it.
pub fn check(file: &str, s: &Settings) -> Result<(), String> {
    check_path("values file", file, s)
}

/// [`check`] for any path the URL names; `what` names it in the error (`values file`, `key file`).
pub fn check_path(what: &str, file: &str, s: &Settings) -> Result<(), String> {
    let path = Path::new(file);
    if !s.allow_absolute_path && path.is_absolute() {
        return Err(format!(
            "{what} '{file}' is an absolute path, which is not allowed ({ALLOW_ABSOLUTE_PATH}=false)"
        ));
    }
    if !s.allow_path_traversal && path.components().any(|c| c == Component::ParentDir) {
        return Err(format!(
            "{what} '{file}' contains '..', which is not allowed ({ALLOW_PATH_TRAVERSAL}=false)"
        ));
    }
    if !s.allow_symlinks {
        // every prefix of the path as written, the file itself included
        let mut prefix = PathBuf::new();
        for c in path.components() {
            prefix.push(c);
            if matches!(c, Component::Normal(_))
                && std::fs::symlink_metadata(&prefix).is_ok_and(|m| m.file_type().is_symlink())
            {
                return Err(if prefix == path {
                    format!("{what} '{file}' is a symlink, which is not allowed ({ALLOW_SYMLINKS}=false)")
                } else {
                    format!(
                        "{what} '{file}' goes through the symlink '{}', which is not allowed ({ALLOW_SYMLINKS}=false)",
                        prefix.display()
                    )
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> Settings {
        let mut s = Settings::from_lookup(|_| None);
        s.allow_symlinks = false;
        s.allow_absolute_path = false;
        s.allow_path_traversal = false;
        s
    }

    #[test]
    fn permissive_by_default() {
        let s = Settings::from_lookup(|_| None);
        assert!(check("/etc/passwd", &s).is_ok());
        assert!(check("../x.yaml", &s).is_ok());
    }

    #[test]
    fn strict_refusals() {
        let s = strict();
        assert!(check("/abs/x.yaml", &s).unwrap_err().contains("absolute"));
        assert!(check("a/../../x.yaml", &s).unwrap_err().contains("'..'"));
        assert!(check("a/b..c.yaml", &s).is_ok());
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("real.yaml"), "a: 1\n").unwrap();
        std::os::unix::fs::symlink("real.yaml", d.path().join("link.yaml")).unwrap();
        std::os::unix::fs::symlink(".", d.path().join("dirlink")).unwrap();
        let mut s = strict();
        s.allow_absolute_path = true;
        let p = |n: &str| d.path().join(n).display().to_string();
        assert!(check(&p("real.yaml"), &s).is_ok());
        assert!(check(&p("link.yaml"), &s)
            .unwrap_err()
            .contains("is a symlink"));
        assert!(check(&p("dirlink/real.yaml"), &s)
            .unwrap_err()
            .contains("goes through the symlink"));
    }
}
