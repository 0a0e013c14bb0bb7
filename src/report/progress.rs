//! Live progress of stack operations: redrawn in place on a terminal (one line per running stack,
//! resource outcomes printed above), plain timestamped lines otherwise (CI logs). Both displays
//! word each event the same way, through [`ProgressLines`].

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::aws::cloudformation::StackEvent;
use crate::report::Style;
use crate::watch::events::{is_replacement, is_stack_event};
use crate::watch::{Progress, ProgressEvent};

/// "4.2s", "3m 07s", "1h 02m".
pub fn human_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds < 60 {
        format!("{:.1}s", duration.as_secs_f64())
    } else if seconds < 3600 {
        format!("{}m {:02}s", seconds / 60, seconds % 60)
    } else {
        format!("{}h {:02}m", seconds / 3600, (seconds % 3600) / 60)
    }
}

fn parse_time(timestamp: &str) -> Option<DateTime> {
    DateTime::from_str(timestamp, Format::DateTime).ok()
}

/// "HH:MM:SS" (UTC) of an RFC 3339 timestamp.
fn clock_time(timestamp: &str) -> Option<String> {
    let time = timestamp.split('T').nth(1)?;
    Some(time.get(..8)?.to_owned())
}

fn now_clock() -> String {
    let now = DateTime::from(SystemTime::now());
    now.fmt(Format::DateTime)
        .ok()
        .and_then(|text| clock_time(&text))
        .unwrap_or_default()
}

/// Per-stack state both displays need: when each resource started (from event timestamps, so
/// durations are AWS's, not our polling's), and how many resources have finished.
#[derive(Debug, Default)]
pub struct ProgressLines {
    style: Style,
    started: BTreeMap<(String, String), DateTime>,
    /// Latest status of each resource, per stack.
    latest: BTreeMap<String, BTreeMap<String, String>>,
    totals: BTreeMap<String, usize>,
}

impl ProgressLines {
    pub fn new(style: Style) -> Self {
        ProgressLines {
            style,
            ..Default::default()
        }
    }

    /// Resources whose latest status is final, and the resources the operation touches.
    pub fn counts(&self, stack: &str) -> (usize, usize) {
        let settled = self.latest.get(stack).map_or(0, |resources| {
            resources
                .values()
                .filter(|status| !status.ends_with("_IN_PROGRESS"))
                .count()
        });
        (settled, self.totals.get(stack).copied().unwrap_or(0))
    }

    /// The line for one progress event (without timestamp), updating durations and counts.
    pub fn line(&mut self, event: &ProgressEvent) -> String {
        let style = self.style;
        match event {
            ProgressEvent::Started {
                stack,
                operation,
                resources,
            } => {
                self.totals.insert(stack.clone(), *resources);
                format!(
                    "{}  {} ({resources} resources)",
                    style.bold(stack),
                    operation.verb()
                )
            }
            ProgressEvent::Note { stack, message } => format!("{}  {message}", style.bold(stack)),
            ProgressEvent::Event { stack, event } => self.event_line(stack, event),
            ProgressEvent::Finished {
                stack,
                status,
                succeeded,
                elapsed,
            } => {
                let status = if *succeeded {
                    style.green(status)
                } else {
                    style.bold_red(status)
                };
                format!(
                    "{}  {status} after {}",
                    style.bold(stack),
                    human_duration(*elapsed)
                )
            }
            ProgressEvent::Skipped { stack, reason } => {
                format!(
                    "{}  {}: {reason}",
                    style.bold(stack),
                    style.yellow("not started")
                )
            }
        }
    }

    fn event_line(&mut self, stack: &str, event: &StackEvent) -> String {
        let style = self.style;
        let status = paint_status(&event.status, style);
        let reason = event
            .reason
            .as_deref()
            .filter(|r| !r.is_empty())
            .map(|r| format!("  {}", style.dim(r)))
            .unwrap_or_default();
        if is_stack_event(event, stack) {
            return format!("{}  {status}{reason}", style.bold(stack));
        }
        self.latest
            .entry(stack.to_owned())
            .or_default()
            .insert(event.logical_id.clone(), event.status.clone());
        let key = (stack.to_owned(), event.logical_id.clone());
        let mut elapsed = String::new();
        if event.status.ends_with("_IN_PROGRESS") {
            if let Some(time) = parse_time(&event.timestamp) {
                self.started.entry(key).or_insert(time);
            }
        } else if let Some(start) = self.started.remove(&key)
            && let Some(end) = parse_time(&event.timestamp)
        {
            let seconds = (end.as_secs_f64() - start.as_secs_f64()).max(0.0);
            elapsed = format!("  {}", human_duration(Duration::from_secs_f64(seconds)));
        }
        let replacing = if is_replacement(event) {
            format!("  {}", style.yellow("replacing"))
        } else {
            String::new()
        };
        format!(
            "{}  {:<28} {:<34} {status}{elapsed}{replacing}{reason}",
            style.bold(stack),
            event.logical_id,
            event.resource_type
        )
    }
}

fn paint_status(status: &str, style: Style) -> String {
    if status.ends_with("_FAILED") || status.contains("ROLLBACK") {
        style.red(status)
    } else if status.ends_with("_COMPLETE") {
        style.green(status)
    } else {
        status.to_owned()
    }
}

/// Plain timestamped lines: resource events carry AWS's own time, the rest strata's clock.
pub struct PlainProgress<W: Write + Send> {
    state: Mutex<(ProgressLines, W)>,
}

impl<W: Write + Send> PlainProgress<W> {
    pub fn new(out: W, style: Style) -> Self {
        PlainProgress {
            state: Mutex::new((ProgressLines::new(style), out)),
        }
    }

    pub fn into_inner(self) -> W {
        match self.state.into_inner() {
            Ok((_, out)) => out,
            Err(poisoned) => poisoned.into_inner().1,
        }
    }
}

impl<W: Write + Send> Progress for PlainProgress<W> {
    fn report(&self, event: ProgressEvent) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let (lines, out) = &mut *state;
        let time = match &event {
            ProgressEvent::Event { event, .. } => clock_time(&event.timestamp),
            _ => None,
        }
        .unwrap_or_else(now_clock);
        let line = lines.line(&event);
        // Progress is best effort: a closed pipe must not fail the operation it describes.
        let _ = writeln!(out, "{time} {line}");
    }
}

/// One redrawn line per running stack; finished resources and stacks are printed above them.
pub struct TerminalProgress {
    multi: MultiProgress,
    state: Mutex<(ProgressLines, BTreeMap<String, ProgressBar>)>,
}

impl TerminalProgress {
    pub fn new(style: Style) -> Self {
        TerminalProgress {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            state: Mutex::new((ProgressLines::new(style), BTreeMap::new())),
        }
    }

    fn bar_style() -> ProgressStyle {
        ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg} {elapsed:>4}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
    }
}

impl Progress for TerminalProgress {
    fn report(&self, event: ProgressEvent) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let (lines, bars) = &mut *state;
        let line = lines.line(&event);
        match &event {
            ProgressEvent::Started {
                stack, operation, ..
            } => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(Self::bar_style());
                bar.set_prefix(stack.clone());
                bar.set_message(operation.verb());
                bar.enable_steady_tick(Duration::from_millis(120));
                bars.insert(stack.clone(), bar);
            }
            ProgressEvent::Event { stack, event } => {
                let (done, total) = lines.counts(stack);
                if let Some(bar) = bars.get(stack) {
                    bar.set_message(format!(
                        "{done}/{total}  {} {}",
                        event.logical_id, event.status
                    ));
                }
                // Only outcomes go to the scroll-back; in-progress states live on the bar.
                if !event.status.ends_with("_IN_PROGRESS") || is_replacement(event) {
                    let _ = self.multi.println(&line);
                }
            }
            ProgressEvent::Finished { stack, .. } => {
                if let Some(bar) = bars.remove(stack) {
                    bar.finish_and_clear();
                }
                let _ = self.multi.println(&line);
            }
            ProgressEvent::Note { .. } | ProgressEvent::Skipped { .. } => {
                let _ = self.multi.println(&line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::recorded_events;

    fn plain_lines(name: &str) -> String {
        let progress = PlainProgress::new(Vec::new(), Style::PLAIN);
        for event in recorded_events(name) {
            progress.report(ProgressEvent::Event {
                stack: "photofeed-dev-storage".into(),
                event,
            });
        }
        String::from_utf8(progress.into_inner()).unwrap()
    }

    #[test]
    fn a_failed_create_shows_each_resource_with_its_duration_and_reason() {
        let text = plain_lines("create_failed_rollback");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 14);
        assert_eq!(
            lines[0],
            "10:00:00 photofeed-dev-storage  CREATE_IN_PROGRESS  User Initiated"
        );
        let failed = lines.iter().find(|l| l.contains("InboxBucket ")).copied();
        assert!(
            lines.iter().any(
                |l| l.starts_with("10:00:05 photofeed-dev-storage  InboxBucket ")
                    && l.contains("AWS::S3::Bucket")
                    && l.contains(
                        "CREATE_FAILED  1.7s  photofeed-dev-inbox-111111111111 already exists"
                    )
            ),
            "{failed:?}\n{text}"
        );
        // The rollback's delete of the queue took a minute; its duration is AWS's, not our polling's.
        assert!(
            lines[12].starts_with("10:01:08 photofeed-dev-storage  PhotoUploadedDeadLetterQueue")
                && lines[12].contains("DELETE_COMPLETE  1m 02s"),
            "{}",
            lines[12]
        );
        assert!(lines[13].ends_with("ROLLBACK_COMPLETE"));
    }

    #[test]
    fn a_rollback_shows_the_stack_reason() {
        let text = plain_lines("update_rollback_failed");
        assert!(text.lines().any(|l| l.contains("UPDATE_ROLLBACK_IN_PROGRESS  The following resource(s) failed to update: [InboxBucketPolicy, PhotoUploadedQueue].")), "{text}");
        assert!(
            text.lines()
                .last()
                .unwrap()
                .contains("UPDATE_ROLLBACK_FAILED")
        );
    }

    #[test]
    fn a_replacement_is_called_out_and_timed_to_completion() {
        let text = plain_lines("update_with_replacement");
        let queue: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("FeedFanoutQueue"))
            .collect();
        assert_eq!(queue.len(), 5, "{text}");
        assert!(
            queue[0].contains("UPDATE_IN_PROGRESS  replacing"),
            "{}",
            queue[0]
        );
        assert!(queue[2].contains("UPDATE_COMPLETE  1m 02s"), "{}", queue[2]);
        assert!(queue[4].contains("DELETE_COMPLETE  2.0s"), "{}", queue[4]);
    }

    #[test]
    fn stack_lifecycle_lines() {
        let mut lines = ProgressLines::new(Style::PLAIN);
        let started = lines.line(&ProgressEvent::Started {
            stack: "photofeed-dev-network".into(),
            operation: crate::watch::Operation::Create,
            resources: 28,
        });
        assert_eq!(started, "photofeed-dev-network  creating (28 resources)");
        let finished = lines.line(&ProgressEvent::Finished {
            stack: "photofeed-dev-network".into(),
            status: "CREATE_COMPLETE".into(),
            succeeded: true,
            elapsed: Duration::from_secs(187),
        });
        assert_eq!(
            finished,
            "photofeed-dev-network  CREATE_COMPLETE after 3m 07s"
        );
        assert_eq!(human_duration(Duration::from_secs(3725)), "1h 02m");
    }
}

#[cfg(test)]
mod terminal_tests {
    use super::*;
    use crate::watch::{Operation, recorded_events};

    #[test]
    fn the_terminal_display_follows_a_whole_operation() {
        // Off a terminal indicatif draws nothing; this checks the bookkeeping (bars opened and closed).
        let progress = TerminalProgress::new(Style::PLAIN);
        let stack = "photofeed-dev-storage".to_owned();
        progress.report(ProgressEvent::Started {
            stack: stack.clone(),
            operation: Operation::Create,
            resources: 9,
        });
        for event in recorded_events("create_failed_rollback") {
            progress.report(ProgressEvent::Event {
                stack: stack.clone(),
                event,
            });
        }
        {
            let state = progress.state.lock().unwrap();
            // Three resources were touched; each ended deleted by the rollback.
            assert_eq!(state.0.counts(&stack), (3, 9));
            assert!(state.1.contains_key(&stack));
        }
        progress.report(ProgressEvent::Finished {
            stack: stack.clone(),
            status: "ROLLBACK_COMPLETE".into(),
            succeeded: false,
            elapsed: Duration::from_secs(69),
        });
        assert!(progress.state.lock().unwrap().1.is_empty());
    }
}
