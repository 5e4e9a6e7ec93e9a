//! `${VAR}` expansion in values.
//!
//! As in Fluent Bit, `${NAME}` is replaced by the variable's value, looked up first among the
//! variables the configuration defines (`@SET` in the classic format, `env:` in YAML), then in
//! the process environment. An undefined variable expands to an empty string and is reported so
//! the loader can warn. Expansion is a single pass: a value that itself contains `${...}` is not
//! expanded again. Text that is not a well-formed reference stays as written: a `$` not followed
//! by `{`, a `${` with no closing `}`, and `${}` or a name containing blanks or `{` (so regular
//! expressions such as `a{2}$` and record accessors such as `$key` are safe).

/// Expands every `${NAME}` in `text` with `lookup`; returns the result and the names that
/// `lookup` did not know, in order of appearance.
pub fn expand_vars(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut undefined = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        out.push_str(&rest[..start]);
        if is_name(name) {
            match lookup(name) {
                Some(value) => out.push_str(&value),
                None => undefined.push(name.to_owned()),
            }
        } else {
            out.push_str(&rest[start..start + 2 + end + 1]);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    (out, undefined)
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c.is_whitespace() || c == '{')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/weir".into()),
            "PORT" => Some("2020".into()),
            "SELF" => Some("${HOME}".into()),
            _ => None,
        }
    }

    fn expand(text: &str) -> (String, Vec<String>) {
        expand_vars(text, &lookup)
    }

    #[test]
    fn expands_known_and_reports_unknown() {
        assert_eq!(expand("${HOME}/logs/*.log").0, "/home/weir/logs/*.log");
        assert_eq!(expand("${HOME}:${PORT}").0, "/home/weir:2020");
        assert_eq!(
            expand("a${NOPE}b"),
            ("ab".to_owned(), vec!["NOPE".to_owned()])
        );
    }

    #[test]
    fn leaves_non_references_alone() {
        for text in [
            "^404$",
            "$key['a']",
            "a{2}$",
            "${",
            "x${y",
            "${}",
            "${ a }",
            "$",
        ] {
            assert_eq!(expand(text), (text.to_owned(), vec![]), "{text}");
        }
    }

    #[test]
    fn single_pass() {
        assert_eq!(expand("${SELF}").0, "${HOME}");
    }
}
