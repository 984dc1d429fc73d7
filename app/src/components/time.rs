//! Dates as text. The same on the server and in the browser (UTC, no time
//! zone database), so hydration sees what SSR rendered.

use crate::i18n::td_string as t;
use crate::locale::Locale;

fn month(locale: Locale, month: i64) -> &'static str {
    match month {
        1 => t!(locale, time.months.m1),
        2 => t!(locale, time.months.m2),
        3 => t!(locale, time.months.m3),
        4 => t!(locale, time.months.m4),
        5 => t!(locale, time.months.m5),
        6 => t!(locale, time.months.m6),
        7 => t!(locale, time.months.m7),
        8 => t!(locale, time.months.m8),
        9 => t!(locale, time.months.m9),
        10 => t!(locale, time.months.m10),
        11 => t!(locale, time.months.m11),
        _ => t!(locale, time.months.m12),
    }
}

/// "23 Nov 2026, 14:05 UTC" / "2026년 11월 23일 14:05 UTC" for unix seconds.
pub fn utc(secs: i64, locale: Locale) -> String {
    let rest = secs.rem_euclid(86_400);
    let (year, m, day) = civil_from_days(secs.div_euclid(86_400));
    t!(
        locale,
        time.format,
        day = day,
        month = month(locale, m),
        year = year,
        hour = format!("{:02}", rest / 3600),
        minute = format!("{:02}", rest % 3600 / 60)
    )
}

/// The day alone: "23 Nov 2026" / "2026년 11월 23일".
pub fn date(secs: i64, locale: Locale) -> String {
    let (year, m, day) = civil_from_days(secs.div_euclid(86_400));
    t!(
        locale,
        time.date,
        day = day,
        month = month(locale, m),
        year = year
    )
}

/// Day and month: "23 Nov" / "11월 23일".
pub fn day_month(secs: i64, locale: Locale) -> String {
    let (_, m, day) = civil_from_days(secs.div_euclid(86_400));
    t!(locale, time.day_month, day = day, month = month(locale, m))
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::{date, utc};
    use crate::locale::Locale;

    #[test]
    fn formats_known_instants() {
        assert_eq!(utc(0, Locale::en), "1 Jan 1970, 00:00 UTC");
        assert_eq!(utc(951_782_400, Locale::en), "29 Feb 2000, 00:00 UTC");
        assert_eq!(utc(1_795_443_900, Locale::en), "23 Nov 2026, 14:25 UTC");
        assert_eq!(utc(1_795_443_900, Locale::ko), "2026년 11월 23일 14:25 UTC");
        assert_eq!(date(1_795_443_900, Locale::ko), "2026년 11월 23일");
    }
}
