//! Calendar dates for policy expiry: parsing `YYYY-MM-DD` and today's date (UTC) from the
//! system clock, or from `MAKGUARD_TODAY` so tests can fix the day.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable that overrides today's date (`YYYY-MM-DD`).
pub const TODAY_ENV: &str = "MAKGUARD_TODAY";

/// A proleptic Gregorian calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDate {
    /// The year, astronomical numbering (year 0 exists).
    pub year: i64,
    /// The month, 1 to 12.
    pub month: u32,
    /// The day of the month, from 1.
    pub day: u32,
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl CivilDate {
    /// A date if it exists in the calendar.
    pub fn new(year: i64, month: u32, day: u32) -> Option<CivilDate> {
        (day >= 1 && day <= days_in_month(year, month)).then_some(CivilDate { year, month, day })
    }

    /// Parses exactly `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<CivilDate> {
        let bytes = text.as_bytes();
        let shape_ok = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
        if !shape_ok {
            return None;
        }
        CivilDate::new(
            text[0..4].parse().ok()?,
            text[5..7].parse().ok()?,
            text[8..10].parse().ok()?,
        )
    }

    /// The date `days` days after 1970-01-01 (Howard Hinnant's civil-from-days algorithm).
    pub fn from_days_since_epoch(days: i64) -> CivilDate {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        CivilDate { year, month, day }
    }

    /// Today in UTC, or `MAKGUARD_TODAY` when set. An unparsable override is an error.
    ///
    /// # Errors
    ///
    /// What is wrong when `MAKGUARD_TODAY` is not a `YYYY-MM-DD` date, or the system clock
    /// is set before 1970.
    pub fn today() -> Result<CivilDate, String> {
        if let Ok(text) = std::env::var(TODAY_ENV) {
            return CivilDate::parse(text.trim())
                .ok_or_else(|| format!("{TODAY_ENV}='{text}' is not a YYYY-MM-DD date"));
        }
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| "the system clock is set before 1970".to_string())?
            .as_secs();
        Ok(CivilDate::from_days_since_epoch((seconds / 86_400) as i64))
    }
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_dates_only() {
        assert_eq!(CivilDate::parse("2026-11-29"), CivilDate::new(2026, 11, 29));
        assert!(CivilDate::parse("2028-02-29").is_some());
        assert!(CivilDate::parse("2027-02-29").is_none());
        assert!(CivilDate::parse("2100-02-29").is_none());
        assert!(CivilDate::parse("2000-02-29").is_some());
        assert!(CivilDate::parse("2026-13-01").is_none());
        assert!(CivilDate::parse("2026-1-01").is_none());
        assert!(CivilDate::parse("2026-01-01x").is_none());
        assert!(CivilDate::parse("+026-01-01").is_none());
    }

    #[test]
    fn civil_from_days_matches_known_dates() {
        assert_eq!(
            CivilDate::from_days_since_epoch(0),
            CivilDate {
                year: 1970,
                month: 1,
                day: 1
            }
        );
        assert_eq!(
            CivilDate::from_days_since_epoch(11_016),
            CivilDate {
                year: 2000,
                month: 2,
                day: 29
            }
        );
        assert_eq!(
            CivilDate::from_days_since_epoch(20_786),
            CivilDate {
                year: 2026,
                month: 11,
                day: 29
            }
        );
        assert_eq!(
            CivilDate::from_days_since_epoch(-1),
            CivilDate {
                year: 1969,
                month: 12,
                day: 31
            }
        );
    }

    #[test]
    fn every_day_round_trips_through_display() {
        let mut previous = CivilDate::from_days_since_epoch(-800);
        for days in -799..80_000 {
            let date = CivilDate::from_days_since_epoch(days);
            assert!(date > previous);
            assert_eq!(CivilDate::parse(&date.to_string()), Some(date));
            previous = date;
        }
    }

    #[test]
    fn orders_by_calendar() {
        assert!(CivilDate::parse("2026-12-01") > CivilDate::parse("2026-11-30"));
        assert!(CivilDate::parse("2027-01-01") > CivilDate::parse("2026-12-31"));
    }
}
