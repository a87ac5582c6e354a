//! One module per command: its arguments (clap) and what it does. Each returns the process's exit code, or an
//! error: a [`crate::error::Usage`] for a mistake in what was asked (exit 2), any other for a failure (exit 1).

pub mod check;
pub mod ls;
pub mod report;
pub mod run;
pub mod schedule;
pub mod status;
pub mod sweep;
pub mod timeline;
pub mod workshop;

/// A duration for people: 45s, 12m05s, 3h20m.
pub(crate) fn ago(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_in_the_largest_useful_unit() {
        assert_eq!(super::ago(-3.0), "0s");
        assert_eq!(super::ago(119.9), "119s");
        assert_eq!(super::ago(725.0), "12m05s");
        assert_eq!(super::ago(12_000.0), "3h20m");
    }
}
