//! EventBridge schedule expressions: `rate(5 minutes)` and `cron(0 3 * * ? *)`.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A parsed schedule expression.
#[derive(Debug, Clone)]
pub enum ScheduleExpr {
    /// `rate(N unit)`: every interval, starting one interval after the rule is created.
    Rate(Duration),
    /// `cron(minutes hours day-of-month month day-of-week year)`, in UTC.
    Cron(Box<cron::Schedule>),
}

impl FromStr for ScheduleExpr {
    type Err = String;

    fn from_str(expression: &str) -> Result<Self, Self::Err> {
        let expression = expression.trim();
        if let Some(body) = expression
            .strip_prefix("rate(")
            .and_then(|s| s.strip_suffix(')'))
        {
            let (count, unit) = body
                .trim()
                .split_once(' ')
                .ok_or_else(|| format!("{expression}: expected rate(N unit)"))?;
            let count: u64 = count
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{expression}: the count must be a positive integer"))?;
            // EventBridge insists on singular for 1 and plural otherwise.
            let seconds = match (count, unit.trim()) {
                (1, "minute") | (2.., "minutes") => 60,
                (1, "hour") | (2.., "hours") => 3600,
                (1, "day") | (2.., "days") => 86_400,
                _ => {
                    return Err(format!(
                        "{expression}: unit must be minute(s), hour(s) or day(s)"
                    ))
                }
            };
            return Ok(Self::Rate(Duration::from_secs(count * seconds)));
        }
        if let Some(body) = expression
            .strip_prefix("cron(")
            .and_then(|s| s.strip_suffix(')'))
        {
            let fields: Vec<&str> = body.split_whitespace().collect();
            if fields.len() != 6 {
                return Err(format!(
                    "{expression}: cron needs 6 fields (min hour dom month dow year)"
                ));
            }
            if fields
                .iter()
                .any(|f| f.contains('L') || f.contains('W') || f.contains('#'))
            {
                return Err(format!(
                    "{expression}: L, W and # are not supported locally"
                ));
            }
            // EventBridge fields are the `cron` crate's without the leading seconds field.
            let schedule = cron::Schedule::from_str(&format!("0 {body}"))
                .map_err(|e| format!("{expression}: {e}"))?;
            return Ok(Self::Cron(Box::new(schedule)));
        }
        Err(format!("{expression}: expected rate(...) or cron(...)"))
    }
}

impl ScheduleExpr {
    /// The first firing strictly after `after` (for a rate: one interval after `after`).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Rate(interval) => chrono::Duration::from_std(*interval)
                .ok()
                .map(|d| after + d),
            Self::Cron(schedule) => schedule.after(&after).next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0)
            .single()
            .expect("valid time")
    }

    #[test]
    fn rates_fire_one_interval_later() {
        let rate: ScheduleExpr = "rate(5 minutes)".parse().expect("valid");
        assert_eq!(rate.next_after(at(3, 0)), Some(at(3, 5)));
        let hourly: ScheduleExpr = "rate(1 hour)".parse().expect("valid");
        assert_eq!(hourly.next_after(at(3, 0)), Some(at(4, 0)));
    }

    #[test]
    fn rates_with_the_wrong_plural_or_zero_are_refused() {
        assert!("rate(1 minutes)".parse::<ScheduleExpr>().is_err());
        assert!("rate(5 minute)".parse::<ScheduleExpr>().is_err());
        assert!("rate(0 minutes)".parse::<ScheduleExpr>().is_err());
    }

    #[test]
    fn eventbridge_cron_expressions_fire_at_the_next_match() {
        let nightly: ScheduleExpr = "cron(0 3 * * ? *)".parse().expect("valid");
        assert_eq!(
            nightly.next_after(at(3, 0)),
            Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).single()
        );
        let quarter: ScheduleExpr = "cron(0/15 * * * ? *)".parse().expect("valid");
        assert_eq!(quarter.next_after(at(3, 1)), Some(at(3, 15)));
    }

    #[test]
    fn malformed_cron_expressions_are_refused() {
        assert!("cron(0 3 * *)".parse::<ScheduleExpr>().is_err());
        assert!("cron(0 3 L * ? *)".parse::<ScheduleExpr>().is_err());
        assert!("every day".parse::<ScheduleExpr>().is_err());
    }
}
