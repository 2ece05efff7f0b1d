//! The R4 date and time formats (`date`, `dateTime`, `instant`, `time`), checked byte by byte
//! against the datatype regexes plus calendar validity (no 2023-02-30).

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
pub fn check_date(s: &str) -> Result<(), &'static str> {
    let rest = date_part(s.as_bytes())?;
    if rest.is_empty() {
        Ok(())
    } else {
        Err("expected YYYY, YYYY-MM or YYYY-MM-DD")
    }
}

/// A `date`, or a full date followed by `Thh:mm:ss[.fff](Z|+hh:mm|-hh:mm)`.
pub fn check_date_time(s: &str) -> Result<(), &'static str> {
    let b = s.as_bytes();
    let rest = date_part(b)?;
    if rest.is_empty() {
        return Ok(());
    }
    if b.len() - rest.len() != 10 || rest[0] != b'T' {
        return Err("a time needs a full date and a 'T': YYYY-MM-DDThh:mm:ss+zz:zz");
    }
    let rest = time_part(&rest[1..])?;
    zone(rest)
}

/// `YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm)`: everything, including the zone.
pub fn check_instant(s: &str) -> Result<(), &'static str> {
    let b = s.as_bytes();
    let rest = date_part(b)?;
    if b.len() - rest.len() != 10 || rest.first() != Some(&b'T') {
        return Err("expected YYYY-MM-DDThh:mm:ss[.fff] with a time zone");
    }
    let rest = time_part(&rest[1..])?;
    zone(rest)
}

/// `hh:mm:ss[.fff]`, no zone.
pub fn check_time(s: &str) -> Result<(), &'static str> {
    let rest = time_part(s.as_bytes())?;
    if rest.is_empty() {
        Ok(())
    } else {
        Err("expected hh:mm:ss[.fff] without a time zone")
    }
}

fn two_digits(b: &[u8]) -> Option<u32> {
    match b {
        [a @ b'0'..=b'9', c @ b'0'..=b'9', ..] => {
            Some(u32::from(a - b'0') * 10 + u32::from(c - b'0'))
        }
        _ => None,
    }
}

/// Parses the date prefix, returning what follows it.
fn date_part(b: &[u8]) -> Result<&[u8], &'static str> {
    const FORMAT: &str = "expected YYYY, YYYY-MM or YYYY-MM-DD";
    let (Some(hi), Some(lo)) = (two_digits(b), b.get(2..).and_then(two_digits)) else {
        return Err(FORMAT);
    };
    let year = hi * 100 + lo;
    if year == 0 {
        return Err("year 0000 does not exist");
    }
    let rest = &b[4..];
    let Some(rest) = rest.strip_prefix(b"-") else {
        return if rest.first().is_some_and(u8::is_ascii_digit) {
            Err(FORMAT)
        } else {
            Ok(rest)
        };
    };
    let Some(month) = two_digits(rest) else {
        return Err(FORMAT);
    };
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    let rest = &rest[2..];
    let Some(rest) = rest.strip_prefix(b"-") else {
        return if rest.first().is_some_and(u8::is_ascii_digit) {
            Err(FORMAT)
        } else {
            Ok(rest)
        };
    };
    let Some(day) = two_digits(rest) else {
        return Err(FORMAT);
    };
    if day == 0 || day > days_in_month(year, month) {
        return Err("day out of range for the month");
    }
    let rest = &rest[2..];
    if rest.first().is_some_and(u8::is_ascii_digit) {
        return Err(FORMAT);
    }
    Ok(rest)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `hh:mm:ss[.fff]`, returning what follows.
fn time_part(b: &[u8]) -> Result<&[u8], &'static str> {
    const FORMAT: &str = "expected hh:mm:ss[.fff]";
    let (Some(h), Some(m), Some(s)) = (
        two_digits(b),
        b.get(3..).and_then(two_digits),
        b.get(6..).and_then(two_digits),
    ) else {
        return Err(FORMAT);
    };
    if b[2] != b':' || b[5] != b':' {
        return Err(FORMAT);
    }
    if h > 23 || m > 59 || s > 60 {
        return Err("time out of range");
    }
    let mut rest = &b[8..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err("expected digits after the decimal point of the seconds");
        }
        rest = &frac[digits..];
    }
    if rest.first().is_some_and(u8::is_ascii_digit) {
        return Err(FORMAT);
    }
    Ok(rest)
}

/// `Z`, `+hh:mm` or `-hh:mm` (hh 00-13 with any minutes, or 14:00), and nothing after.
fn zone(b: &[u8]) -> Result<(), &'static str> {
    const FORMAT: &str = "a time needs a time zone: Z, +hh:mm or -hh:mm";
    match b {
        [b'Z'] => Ok(()),
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            let (Some(h), Some(m)) = (two_digits(&[*h1, *h2]), two_digits(&[*m1, *m2])) else {
                return Err(FORMAT);
            };
            if (h <= 13 && m <= 59) || (h == 14 && m == 0) {
                Ok(())
            } else {
                Err("time zone offset out of range")
            }
        }
        _ => Err(FORMAT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: fn(&str) -> Result<(), &'static str>, input: &str, ok: bool) {
        assert_eq!(f(input).is_ok(), ok, "{input:?}: {:?}", f(input));
    }

    #[test]
    fn dates() {
        for (input, ok) in [
            ("2023", true),
            ("2023-02", true),
            ("2023-02-28", true),
            ("2024-02-29", true),
            ("2000-02-29", true),
            ("0001-01-01", true),
            ("2023-02-29", false),
            ("1900-02-29", false),
            ("2023-02-30", false),
            ("2023-04-31", false),
            ("2023-13", false),
            ("2023-00", false),
            ("2023-01-00", false),
            ("0000", false),
            ("202", false),
            ("20231", false),
            ("2023-1-01", false),
            ("2023-01-011", false),
            ("2023-01-01T10:00:00Z", false),
            ("", false),
            ("２０２３", false),
        ] {
            check(check_date, input, ok);
        }
    }

    #[test]
    fn date_times() {
        for (input, ok) in [
            ("2023", true),
            ("2023-05", true),
            ("2023-05-06", true),
            ("2023-05-06T10:11:12Z", true),
            ("2023-05-06T10:11:12.123+01:00", true),
            ("2023-05-06T23:59:60-14:00", true),
            ("2023-05-06T23:59:60-14:01", false),
            ("2023-05-06T23:59:60+14:00", true),
            ("2023-05-06T23:59:60+13:59", true),
            ("2023-05-06T10:11:12", false),
            ("2023-05-06T10:11Z", false),
            ("2023-05-06T24:00:00Z", false),
            ("2023-05-06T10:60:00Z", false),
            ("2023-05-06T10:11:12.Z", false),
            ("2023-05-06T10:11:12+0100", false),
            ("2023-05-06T10:11:12+01:00x", false),
            ("2023-05T10:11:12Z", false),
            ("2023-05-06 10:11:12Z", false),
            ("2023-02-30T10:11:12Z", false),
        ] {
            check(check_date_time, input, ok);
        }
    }

    #[test]
    fn instants() {
        for (input, ok) in [
            ("2023-05-06T10:11:12Z", true),
            ("2023-05-06T10:11:12.5-05:00", true),
            ("2023-05-06T10:11:12", false),
            ("2023-05-06", false),
            ("2023", false),
        ] {
            check(check_instant, input, ok);
        }
    }

    #[test]
    fn times() {
        for (input, ok) in [
            ("10:11:12", true),
            ("00:00:00.000", true),
            ("23:59:60", true),
            ("24:00:00", false),
            ("10:11", false),
            ("10:11:12Z", false),
            ("1:11:12", false),
        ] {
            check(check_time, input, ok);
        }
    }
}
