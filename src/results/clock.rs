//! UTC timestamps without a date crate: run ids and the manifest need only these.

#[derive(Debug, Clone, Copy)]
pub struct UtcTime {
    pub unix_seconds: f64,
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

pub fn now_utc() -> UtcTime {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    from_unix(d.as_secs_f64())
}

pub fn from_unix(unix_seconds: f64) -> UtcTime {
    let secs = unix_seconds.floor() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    UtcTime {
        unix_seconds,
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem % 3600 / 60) as u32,
        second: (rem % 60) as u32,
    }
}

impl UtcTime {
    /// 2026-11-27T20:49:03Z
    pub fn iso(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// 20261127-204903, for folder names.
    pub fn compact(&self) -> String {
        format!("{:04}{:02}{:02}-{:02}{:02}{:02}", self.year, self.month, self.day, self.hour, self.minute, self.second)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_dates() {
        assert_eq!(super::from_unix(0.0).iso(), "1970-01-01T00:00:00Z");
        assert_eq!(super::from_unix(1_795_812_543.0).iso(), "2026-11-27T20:49:03Z");
        assert_eq!(super::from_unix(951_782_400.0).iso(), "2000-02-29T00:00:00Z");
    }
}
