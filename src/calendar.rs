//! The one calendar of the program: proleptic Gregorian dates, the month
//! and weekday names the parsers and renderers share, and the current UTC
//! time for provenance.
//!
//! Ingest validates publication dates with it, the facts extractors
//! resolve relative dates (`завтра`, `28 серпня` without a year) with it,
//! and records stamp `generated_at` with [`utc_now`].
use std::time::{SystemTime, UNIX_EPOCH};

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// A valid date, or `None` (`2025-02-30`, month 13, day 0).
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        valid.then_some(Date { year, month, day })
    }

    /// Parses `YYYY-MM-DD` (anything after the day, such as `T10:00`, is ignored).
    pub fn parse_iso(s: &str) -> Option<Date> {
        let mut it = s.trim().splitn(3, '-');
        let y = it.next()?.parse().ok()?;
        let m = it.next()?.parse().ok()?;
        let d = it.next()?.get(..2)?.parse().ok()?;
        Date::new(y, m, d)
    }

    /// `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// Days since 1970-01-01.
    pub fn to_days(self) -> i64 {
        let (y, m, d) = (self.year as i64, self.month as i64, self.day as i64);
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `z` days after 1970-01-01 (civil-from-days).
    pub fn from_days(z: i64) -> Date {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + i64::from(m <= 2);
        Date {
            year: y as i32,
            month: m,
            day: d,
        }
    }

    pub fn plus_days(self, n: i64) -> Date {
        Date::from_days(self.to_days() + n)
    }
}

pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Ukrainian month names: nominative, genitive (`28 серпня`), locative (`у серпні`).
pub const MONTHS_UK: [(&str, &str, &str); 12] = [
    ("січень", "січня", "січні"),
    ("лютий", "лютого", "лютому"),
    ("березень", "березня", "березні"),
    ("квітень", "квітня", "квітні"),
    ("травень", "травня", "травні"),
    ("червень", "червня", "червні"),
    ("липень", "липня", "липні"),
    ("серпень", "серпня", "серпні"),
    ("вересень", "вересня", "вересні"),
    ("жовтень", "жовтня", "жовтні"),
    ("листопад", "листопада", "листопаді"),
    ("грудень", "грудня", "грудні"),
];

pub const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The month (1–12) of a genitive Ukrainian month name (`квітня` → 4).
pub fn month_from_genitive(name: &str) -> Option<u32> {
    let lower = name.to_lowercase();
    MONTHS_UK
        .iter()
        .position(|m| m.1 == lower)
        .map(|i| i as u32 + 1)
}

/// Weekdays in the accusative used after `у`/`в` (`у п’ятницю`), with English.
pub const WEEKDAYS: [(&str, &str); 7] = [
    ("понеділок", "Monday"),
    ("вівторок", "Tuesday"),
    ("середу", "Wednesday"),
    ("четвер", "Thursday"),
    ("п'ятницю", "Friday"),
    ("суботу", "Saturday"),
    ("неділю", "Sunday"),
];

/// Current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    utc_timestamp(secs)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_timestamp(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let d = Date::from_days(days);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        d.iso(),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_step_across_boundaries() {
        let d = Date::parse_iso("2025-04-23").unwrap();
        assert_eq!(d.plus_days(1).iso(), "2025-04-24");
        assert_eq!(
            Date::parse_iso("2024-12-31").unwrap().plus_days(1).iso(),
            "2025-01-01"
        );
        assert_eq!(
            Date::parse_iso("2024-03-01").unwrap().plus_days(-1).iso(),
            "2024-02-29"
        );
        assert!(Date::parse_iso("2025-02-30").is_none());
        assert!(Date::parse_iso("2025-13-01").is_none());
        for z in [-800_000i64, -1, 0, 1, 19_000, 2_000_000] {
            assert_eq!(Date::from_days(z).to_days(), z);
        }
        assert_eq!(Date::from_days(0).iso(), "1970-01-01");
    }

    #[test]
    fn leap_years_and_month_lengths() {
        assert!(is_leap_year(2024) && is_leap_year(2000));
        assert!(!is_leap_year(1900) && !is_leap_year(2025));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2025, 2), 28);
        assert_eq!(days_in_month(2025, 11), 30);
        assert_eq!(month_from_genitive("Квітня"), Some(4));
        assert_eq!(month_from_genitive("квітень"), None);
    }

    #[test]
    fn timestamps_are_iso() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_764_582_245), "2025-12-01T09:44:05Z");
        let t = utc_now();
        assert_eq!(t.len(), 20, "{t}");
    }
}
