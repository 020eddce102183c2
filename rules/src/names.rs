//! Names lava-conn gives what a connector hands a job.

/// Whether `name` is a portable environment variable name: a letter or
/// `_`, then letters, digits and `_`. A value a connector hands a job is
/// named so: the name becomes a variable, a file name and a shell `case`
/// pattern, and the host refuses any other.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_are_portable_ones() {
        for (name, ok) in
            [("DB_PASSWORD", true), ("_x1", true), ("1X", false), ("", false), ("A-B", false), ("É", false)]
        {
            assert_eq!(is_env_name(name), ok, "{name:?}");
        }
    }
}
