//! Shell-like word splitting for commands given in environment variables (`$EDITOR`,
//! `SOPS_AGE_KEY_CMD`, …): quotes and backslashes like a POSIX shell, no expansion, no shell run.

/// Splits a command line like a POSIX shell (quotes and backslashes; no expansion). None when a
/// quote is not closed.
pub fn split_command(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\' | '$' | '`') => word.push(c),
                            '\n' => {}
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next()? {
                    '\n' => {}
                    c => word.push(c),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split_command(r#"cat "/a b/c" 'd e' f\ g"#).unwrap(),
            ["cat", "/a b/c", "d e", "f g"]
        );
        assert_eq!(split_command("code --wait").unwrap(), ["code", "--wait"]);
        assert!(split_command("vi 'unclosed").is_none());
    }
}
