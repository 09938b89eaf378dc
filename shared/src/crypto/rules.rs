//! Which values get encrypted: sops' suffix, regex and comment-regex rules, applied to every key of the
//! path (a rule on an ancestor covers its whole subtree).

use regex::Regex;

use crate::error::{Result, SopsError};
use crate::metadata::EncryptionRule;
use crate::tree::Text;

/// A compiled [`EncryptionRule`].
#[derive(Debug, Clone)]
pub struct Rules {
    rule: EncryptionRule,
    re: Option<Regex>,
}

/// A regex compile error on one line: the `regex` crate draws a caret diagram over several lines;
/// keep only its `error: …` reason.
pub(crate) fn regex_error_line(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

impl Rules {
    /// Compiles the rule's regex, if it has one.
    pub fn new(rule: &EncryptionRule) -> Result<Self> {
        let re = match rule {
            EncryptionRule::UnencryptedRegex(r)
            | EncryptionRule::EncryptedRegex(r)
            | EncryptionRule::UnencryptedCommentRegex(r)
            | EncryptionRule::EncryptedCommentRegex(r) => Some(Regex::new(r).map_err(|e| {
                SopsError::Config(format!(
                    "invalid regular expression {r:?}: {}",
                    regex_error_line(&e)
                ))
            })?),
            _ => None,
        };
        Ok(Rules {
            rule: rule.clone(),
            re,
        })
    }

    /// The comment regex that must keep comments plain, if that rule is active.
    pub fn unencrypted_comment_regex(&self) -> Option<&Regex> {
        match self.rule {
            EncryptionRule::UnencryptedCommentRegex(_) => self.re.as_ref(),
            _ => None,
        }
    }

    /// Decides like sops whether the leaf at `path`, preceded by the comments in `stack` (one level per
    /// enclosing map or sequence), is encrypted. `is_comment` is true when the leaf is itself a comment.
    pub(crate) fn should_encrypt(
        &self,
        path: &[Text],
        stack: &[Vec<Text>],
        is_comment: bool,
    ) -> bool {
        let re = || self.re.as_ref().expect("regex rules are compiled");
        match &self.rule {
            EncryptionRule::Default => !path.iter().any(|k| {
                k.as_ref()
                    .ends_with(EncryptionRule::DEFAULT_UNENCRYPTED_SUFFIX)
            }),
            EncryptionRule::UnencryptedSuffix(s) => {
                !path.iter().any(|k| k.as_ref().ends_with(s.as_str()))
            }
            EncryptionRule::EncryptedSuffix(s) => {
                path.iter().any(|k| k.as_ref().ends_with(s.as_str()))
            }
            EncryptionRule::UnencryptedRegex(_) => !path.iter().any(|k| re().is_match(k.as_ref())),
            EncryptionRule::EncryptedRegex(_) => path.iter().any(|k| re().is_match(k.as_ref())),
            EncryptionRule::UnencryptedCommentRegex(_) => {
                !stack.iter().flatten().any(|c| re().is_match(c.as_ref()))
            }
            EncryptionRule::EncryptedCommentRegex(_) => {
                let last_level = stack.len().saturating_sub(1);
                let last_len = stack.last().map_or(0, Vec::len);
                stack.iter().enumerate().any(|(i, level)| {
                    level.iter().enumerate().any(|(j, c)| {
                        // the marker comment itself stays plain
                        let own_line = is_comment && i == last_level && j + 1 == last_len;
                        !own_line && re().is_match(c.as_ref())
                    })
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(keys: &[&str]) -> Vec<Text> {
        keys.iter().map(|s| Text::from(*s)).collect()
    }

    #[test]
    fn suffix_and_regex_apply_to_any_path_key() {
        let r = Rules::new(&EncryptionRule::Default).unwrap();
        assert!(r.should_encrypt(&p(&["a", "b"]), &[], false));
        assert!(!r.should_encrypt(&p(&["a_unencrypted", "b"]), &[], false));
        let r = Rules::new(&EncryptionRule::EncryptedRegex(
            "^(data|stringData)$".into(),
        ))
        .unwrap();
        assert!(r.should_encrypt(&p(&["data", "password"]), &[], false));
        assert!(!r.should_encrypt(&p(&["metadata", "name"]), &[], false));
        assert!(
            !r.should_encrypt(&p(&[]), &[], true),
            "top-level comments stay plain with encrypted_regex"
        );
        let r = Rules::new(&EncryptionRule::UnencryptedRegex("^public".into())).unwrap();
        assert!(!r.should_encrypt(&p(&["x", "public_key"]), &[], false));
    }

    #[test]
    fn comment_regexes() {
        let r = Rules::new(&EncryptionRule::EncryptedCommentRegex("sops:enc".into())).unwrap();
        let stack = stack_of(" sops:enc");
        assert!(r.should_encrypt(&p(&["k"]), &stack, false));
        assert!(
            !r.should_encrypt(&p(&[]), &stack, true),
            "the marker comment stays plain"
        );
        let r = Rules::new(&EncryptionRule::UnencryptedCommentRegex(
            "sops:plain".into(),
        ))
        .unwrap();
        assert!(!r.should_encrypt(&p(&["k"]), &stack_of(" sops:plain"), false));
        assert!(r.should_encrypt(&p(&["k"]), &[], false));
    }

    fn stack_of(c: &str) -> Vec<Vec<Text>> {
        vec![vec![c.into()]]
    }
}
