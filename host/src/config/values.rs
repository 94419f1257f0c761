//! Numbers from the command line, checked against their range and refused in words ("500 is
//! out of range: from 1 to 240 frames a second"), where clap's own range parser prints Rust's
//! range syntax (`1..=240`).

use std::fmt::Display;

/// A whole number from `s` within `min..=max` (no upper bound when `max` is `None`); `unit`
/// says what it counts ("frames a second", or empty). The error is the sentence clap shows
/// after the flag's name.
pub(super) fn in_range<T>(s: &str, min: T, max: Option<T>, unit: &str) -> Result<T, String>
where
    T: Into<i128> + TryFrom<i128> + Display + Copy,
{
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    let range = match max {
        Some(max) => format!("from {min} to {max}{unit}"),
        None => format!("{min}{unit} or more"),
    };
    let n: i128 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number ({range})"))?;
    let out = || format!("{n} is out of range: {range}");
    if n < min.into() || max.is_some_and(|max| n > max.into()) {
        return Err(out());
    }
    T::try_from(n).map_err(|_| out())
}

/// clap's rendering of a usage error (`error: invalid value …`) with glint's prefix, so that
/// every start-up error begins with `glint:`. Its `Usage:` line is always the general one:
/// after a "similar argument" tip clap shows that argument as if it were required.
pub(super) fn usage_error(rendered: &str) -> String {
    let rest = rendered.strip_prefix("error: ").unwrap_or(rendered);
    let lines: Vec<&str> = rest
        .split_inclusive('\n')
        .map(|l| {
            if l.starts_with("Usage: ") {
                "Usage: glint [OPTIONS]\n"
            } else {
                l
            }
        })
        .collect();
    format!("glint: {}", lines.concat())
}

#[cfg(test)]
mod tests {
    use super::{in_range, usage_error};
    use crate::config::Config;
    use clap::Parser;

    #[test]
    fn a_usage_error_begins_with_glint_like_the_others() {
        let e = Config::try_parse_from(["glint", "--fps", "500"]).expect_err("refused");
        let shown = usage_error(&e.render().to_string());
        assert!(
            shown.starts_with(
                "glint: invalid value '500' for '--fps <FPS>': 500 is out of range: from 1 to 240"
            ),
            "{shown}"
        );
        assert!(shown.contains("try '--help'"), "{shown}");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn a_negative_number_is_out_of_range_not_an_unknown_flag() {
        let e = Config::try_parse_from(["glint", "--fps", "-5"]).expect_err("refused");
        let shown = usage_error(&e.render().to_string());
        assert!(
            shown.starts_with("glint: invalid value '-5' for '--fps <FPS>': -5 is out of range"),
            "{shown}"
        );
    }

    #[test]
    fn an_unknown_flag_gets_the_general_usage_line() {
        let e = Config::try_parse_from(["glint", "--frobnicate"]).expect_err("refused");
        let shown = usage_error(&e.render().to_string());
        assert!(
            shown.starts_with("glint: unexpected argument '--frobnicate' found"),
            "{shown}"
        );
        assert!(shown.contains("\nUsage: glint [OPTIONS]\n"), "{shown}");
        assert!(!shown.contains("Usage: glint --"), "{shown}");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn a_size_out_of_range_is_out_of_range_not_a_non_number() {
        use crate::config::parse_size;
        assert_eq!(parse_size("1920x1080"), Ok((1920, 1080)));
        let range = Err("99999 must be even and between 16 and 8192".to_string());
        assert_eq!(parse_size("99999x99999"), range);
        assert_eq!(
            parse_size("1280xten"),
            Err("`ten` is not a whole number".into())
        );
    }

    #[test]
    fn a_number_out_of_range_is_refused_in_words() {
        assert_eq!(in_range("60", 1u32, Some(240), "frames a second"), Ok(60));
        assert_eq!(
            in_range("500", 1u32, Some(240), "frames a second"),
            Err("500 is out of range: from 1 to 240 frames a second".into())
        );
        assert_eq!(
            in_range("70000", 0u16, Some(u16::MAX), ""),
            Err("70000 is out of range: from 0 to 65535".into())
        );
        assert_eq!(
            in_range("30", 60u64, None, "seconds"),
            Err("30 is out of range: 60 seconds or more".into())
        );
        assert_eq!(
            in_range("-1", 1u32, Some(9), "x"),
            Err("-1 is out of range: from 1 to 9 x".into())
        );
        assert!(in_range("1.5", 1u32, Some(9), "x").is_err_and(|e| e.contains("not a whole")));
    }
}
