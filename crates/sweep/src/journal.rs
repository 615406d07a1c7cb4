//! The sweep folder's journal, `journal.jsonl`: one JSON object per line,
//! one line per event (a trial created, a rung reached, a promotion, a trial
//! stopped), appended and never rewritten. A search strategy's state is the
//! fold of the journal, so a sweep rerun after Ctrl-C, `kill -9` or a reboot
//! makes the same decisions as the run that was stopped.
//!
//! Each event is written with one `write` of the whole line to a file opened
//! with `O_APPEND`, then `fsync`ed. A line cut short by a crash (the last
//! one, without its newline, or not valid JSON) is left out when the journal
//! is read and cut off before the next append; a damaged line before the
//! last is an error naming the file and line.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::SweepError;

/// The journal's file name in the sweep folder.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// Longest journal read, in bytes (a journal line is ~200 bytes; 100,000
/// trials with a few events each stay far below).
const MAX_JOURNAL_BYTES: u64 = 1 << 30;

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// A trial was created: its first unit of work is about to start.
    Trial {
        /// The trial's id.
        id: usize,
        /// Its folder's name in the sweep folder.
        dir: String,
        /// Its overrides (dotted keys and values).
        overrides: Value,
    },
    /// A trial finished a rung: its metric at the rung's last step.
    Rung {
        /// The trial's id.
        id: usize,
        /// The rung, from 0.
        rung: usize,
        /// Steps the trial has taken (the rung's length).
        steps: i64,
        /// The value of the search's metric there.
        metric: f64,
    },
    /// A trial was promoted to a rung (its run continues to that rung's length).
    Promoted {
        /// The trial's id.
        id: usize,
        /// The rung it was promoted to.
        rung: usize,
        /// That rung's length in steps.
        steps: i64,
    },
    /// The search ended without promoting the trial past `rung`.
    Stopped {
        /// The trial's id.
        id: usize,
        /// The last rung it reached.
        rung: usize,
    },
}

/// The journal of a sweep folder: its events so far, and where to append more.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    events: Vec<Event>,
    /// Bytes of whole lines in the file (a torn tail is cut off to this length before appending).
    good_len: u64,
    /// Whether the file's length differs from `good_len` (a torn last line).
    torn: bool,
}

impl Journal {
    /// Reads the journal of the sweep folder `dir` (an empty one when the
    /// file is not there yet). A torn last line is left out (and reported by
    /// [`Journal::torn`]); any other line that is not an event is an error.
    pub fn open(dir: &Path) -> Result<Self, SweepError> {
        let path = dir.join(JOURNAL_FILE);
        let bad = |message: String| SweepError::Journal { path: path.clone(), message };
        let bytes = match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(bad(e.to_string())),
            Ok(m) if !m.is_file() => return Err(bad("is not a regular file; move it away".into())),
            Ok(m) if m.len() > MAX_JOURNAL_BYTES => {
                return Err(bad(format!("is larger than {MAX_JOURNAL_BYTES} bytes; it is not a sweep journal")))
            }
            Ok(_) => std::fs::read(&path).map_err(|e| bad(e.to_string()))?,
        };
        let (events, good_len) = parse(&bytes).map_err(bad)?;
        Ok(Self { path, events, good_len, torn: good_len != bytes.len() as u64 })
    }

    /// The events, oldest first.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file ended with a torn line when read (it is cut off at the next append).
    pub fn torn(&self) -> bool {
        self.torn
    }

    /// Appends `event` as one line: one write to the file opened with
    /// `O_APPEND`, then `fsync`; a torn tail left by a crash is cut off first.
    pub fn append(&mut self, event: Event) -> Result<(), SweepError> {
        let bad = |e: std::io::Error| SweepError::Journal { path: self.path.clone(), message: e.to_string() };
        let mut line = serde_json::to_string(&event).map_err(|e| bad(std::io::Error::other(e)))?;
        line.push('\n');
        if self.torn {
            let file = OpenOptions::new().write(true).open(&self.path).map_err(bad)?;
            file.set_len(self.good_len).map_err(bad)?;
            file.sync_all().map_err(bad)?;
            self.torn = false;
        }
        let mut file = OpenOptions::new().create(true).append(true).open(&self.path).map_err(bad)?;
        file.write_all(line.as_bytes()).map_err(bad)?;
        file.sync_all().map_err(bad)?;
        self.good_len += line.len() as u64;
        self.events.push(event);
        Ok(())
    }
}

/// The events of a journal's bytes and the length of its whole lines; a
/// damaged line before the last is an error naming its number.
fn parse(bytes: &[u8]) -> Result<(Vec<Event>, u64), String> {
    let mut events = Vec::new();
    let mut good_len = 0u64;
    let mut start = 0usize;
    let mut number = 0usize;
    while start < bytes.len() {
        number += 1;
        // A last line without its newline: its write may not have ended, so it is left out.
        let Some(end) = bytes[start..].iter().position(|&b| b == b'\n').map(|i| start + i) else { break };
        match serde_json::from_slice::<Event>(&bytes[start..end]) {
            Ok(event) => {
                events.push(event);
                start = end + 1;
                good_len = start as u64;
            }
            // The last line, cut short by a crash: left out.
            Err(_) if end + 1 == bytes.len() => break,
            Err(e) => {
                return Err(format!(
                    "line {number} is not a journal event ({e}); the sweep folder was changed by hand: restore the \
                     line or give the sweep another --out"
                ))
            }
        }
    }
    Ok((events, good_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_appended_line_by_line_and_a_torn_last_line_is_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(tmp.path()).unwrap();
        assert!(journal.events().is_empty() && !journal.torn());
        let events = [
            Event::Trial { id: 0, dir: "lr=0.1".into(), overrides: serde_json::json!({"train.learning_rate": 0.1}) },
            Event::Rung { id: 0, rung: 0, steps: 10, metric: 0.5 },
            Event::Promoted { id: 0, rung: 1, steps: 30 },
        ];
        for e in &events {
            journal.append(e.clone()).unwrap();
        }
        let path = tmp.path().join(JOURNAL_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.lines().next().unwrap().starts_with(r#"{"event":"trial","id":0"#), "{text}");
        assert_eq!(Journal::open(tmp.path()).unwrap().events(), &events);
        // A crash in the middle of a write leaves a torn last line: left out, then cut off.
        std::fs::write(&path, format!("{text}{{\"event\":\"rung\",\"id\":0,\"ru")).unwrap();
        let mut torn = Journal::open(tmp.path()).unwrap();
        assert!(torn.torn());
        assert_eq!(torn.events(), &events);
        torn.append(Event::Stopped { id: 0, rung: 1 }).unwrap();
        let again = Journal::open(tmp.path()).unwrap();
        assert!(!again.torn());
        assert_eq!(again.events().len(), 4);
        assert_eq!(again.events()[3], Event::Stopped { id: 0, rung: 1 });
        // A whole last line without its newline is torn too (its write may not have ended).
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.trim_end()).unwrap();
        assert_eq!(Journal::open(tmp.path()).unwrap().events().len(), 3);
        // A damaged line before the last is an error naming the line.
        std::fs::write(&path, format!("not json\n{text}")).unwrap();
        let err = Journal::open(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("journal.jsonl") && err.contains("line 1 is not a journal event"), "{err}");
    }

    #[test]
    fn a_journal_that_is_not_a_regular_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/zero", tmp.path().join(JOURNAL_FILE)).unwrap();
        let err = Journal::open(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }
}
