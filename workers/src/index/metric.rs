//! The index lag as a CloudWatch metric without an SDK call: an Embedded Metric Format record,
//! one JSON log line that CloudWatch Logs turns into a data point of `Hearth/IndexLagSeconds`.
//!
//! The record's namespace, metric name, unit and dimension match the alarm in
//! `infra/cloudformation/alarms.yaml` (namespace `Hearth`, metric `IndexLagSeconds`, dimension
//! `Environment` = the deployment's name, which is also `HEARTH_AWS_PREFIX`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// The CloudWatch namespace of Hearth's own metrics.
pub const NAMESPACE: &str = "Hearth";
/// The metric the index-lag alarm watches.
pub const INDEX_LAG_METRIC: &str = "IndexLagSeconds";
/// The dimension the alarm selects by.
pub const ENVIRONMENT_DIMENSION: &str = "Environment";

/// The EMF record of one index-lag observation in `environment`, taken `at`.
pub fn index_lag_record(environment: &str, lag: Duration, at: DateTime<Utc>) -> Value {
    json!({
        "_aws": {
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[ENVIRONMENT_DIMENSION]],
                "Metrics": [{"Name": INDEX_LAG_METRIC, "Unit": "Seconds"}],
            }],
        },
        ENVIRONMENT_DIMENSION: environment,
        INDEX_LAG_METRIC: lag.as_secs_f64(),
    })
}

/// The record of an observation made now, as one log line (no newline inside; CloudWatch Logs
/// reads one event per line).
pub fn index_lag_line(environment: &str, lag: Duration) -> String {
    let mut line = index_lag_record(environment, lag, Utc::now()).to_string();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_has_the_shape_cloudwatch_and_the_alarm_expect() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .expect("time")
            .with_timezone(&Utc);
        let record = index_lag_record("prod", Duration::from_millis(2_500), at);
        assert_eq!(
            record,
            json!({
                "_aws": {
                    "Timestamp": 1_767_323_045_678_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Hearth",
                        "Dimensions": [["Environment"]],
                        "Metrics": [{"Name": "IndexLagSeconds", "Unit": "Seconds"}],
                    }],
                },
                "Environment": "prod",
                "IndexLagSeconds": 2.5,
            })
        );
        // Every dimension and metric the directive names is a member of the record's root.
        let directive = &record["_aws"]["CloudWatchMetrics"][0];
        for name in directive["Dimensions"][0].as_array().expect("dimensions") {
            assert!(record[name.as_str().expect("name")].is_string());
        }
        for metric in directive["Metrics"].as_array().expect("metrics") {
            assert!(record[metric["Name"].as_str().expect("name")].is_number());
        }
    }

    #[test]
    fn the_alarm_watches_the_same_metric() {
        let alarms = include_str!("../../../infra/cloudformation/alarms.yaml");
        let alarm = alarms
            .split("IndexLagAlarm:")
            .nth(1)
            .expect("the index-lag alarm");
        let alarm = &alarm[..alarm.find("\n\n").unwrap_or(alarm.len())];
        assert!(alarm.contains(&format!("Namespace: {NAMESPACE}\n")));
        assert!(alarm.contains(&format!("MetricName: {INDEX_LAG_METRIC}\n")));
        assert!(alarm.contains(&format!("Name: {ENVIRONMENT_DIMENSION},")));
    }

    #[test]
    fn a_line_is_one_json_event() {
        let line = index_lag_line("dev", Duration::ZERO);
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.ends_with('\n'));
        let value: Value = serde_json::from_str(line.trim_end()).expect("json");
        assert_eq!(value["IndexLagSeconds"], json!(0.0));
    }
}
