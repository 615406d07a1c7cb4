//! Writes TensorBoard event files: scalars (classic `simple_value`
//! summaries, what PyTorch's `SummaryWriter.add_scalar` writes), PNG images,
//! and the hparams plugin's session summaries, so that
//! `tensorboard --logdir runs` shows them.
//!
//! An event file is a sequence of TFRecords — length (u64, little-endian),
//! masked CRC-32C of the length, the serialised `Event`, masked CRC-32C of the
//! data — beginning with a `file_version` event. Every record is written with
//! one `write` call as soon as it is added, so a process killed at any moment
//! leaves a file whose complete records are all readable. A new
//! [`EventWriter`] always starts a new file; TensorBoard reads every file of
//! a folder as one run, so a resumed run continues the same series (call
//! [`EventWriter::restart_at`] to drop what the interrupted process logged
//! after its checkpoint).
//!
//! ```no_run
//! let mut writer = tfevents::EventWriter::create("runs/example/tb")?;
//! writer.add_scalar("train/loss", 0.25, 10)?;
//! # Ok::<(), tfevents::TfEventsError>(())
//! ```
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

pub mod proto;

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;
use proto::{Event, HParamsData, HParamsPluginData, SummaryValue, What};

/// What can go wrong writing or reading an event file.
#[derive(Debug, thiserror::Error)]
pub enum TfEventsError {
    /// The folder or file could not be created or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A record of an event file is damaged.
    #[error("{}: damaged event record at byte {offset}: {what}", path.display())]
    Corrupt {
        /// The file or folder at fault.
        path: PathBuf,
        /// Byte offset of the damaged record.
        offset: usize,
        /// What is wrong with the record.
        what: String,
    },
}

impl TfEventsError {
    /// Whether the user's config is at fault (exit status 2 in the bin). Never:
    /// a failure here is in writing or reading a file.
    pub fn is_config(&self) -> bool {
        false
    }
}

/// Result of this crate.
pub type Result<T> = std::result::Result<T, TfEventsError>;

/// The hparams plugin's name.
pub const HPARAMS_PLUGIN: &str = "hparams";
/// Tag of the hparams session start summary.
pub const SESSION_START_INFO_TAG: &str = "_hparams_/session_start_info";
/// Tag of the hparams session end summary.
pub const SESSION_END_INFO_TAG: &str = "_hparams_/session_end_info";

/// A hyperparameter's value.
#[derive(Debug, Clone, PartialEq)]
pub enum HParam {
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
    /// A boolean.
    Bool(bool),
}

/// How a trial (hparams session) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// Finished.
    Success = 1,
    /// Failed.
    Failure = 2,
    /// Still running (or interrupted, to be resumed).
    Running = 3,
}

/// Masked CRC-32C, as TFRecord frames use it.
pub fn masked_crc32c(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One TFRecord: length, its masked CRC, the data, the data's masked CRC.
pub fn frame(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut record = Vec::with_capacity(data.len() + 16);
    record.extend_from_slice(&len);
    record.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    record.extend_from_slice(data);
    record.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    record
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect())
        .filter(|h: &String| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Appends events to a new event file in a folder.
#[derive(Debug)]
pub struct EventWriter {
    path: PathBuf,
    file: File,
}

impl EventWriter {
    /// Creates `dir` if needed and a new file
    /// `events.out.tfevents.<seconds>.<host>.<pid>.<n>` in it, starting with
    /// the `file_version` event.
    pub fn create(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| TfEventsError::Io { path: dir.to_owned(), source })?;
        let stamp = now() as u64;
        let (host, pid) = (hostname(), std::process::id());
        let mut n = 0;
        let (path, file) = loop {
            let path = dir.join(format!("events.out.tfevents.{stamp:010}.{host}.{pid}.{n}"));
            match std::fs::OpenOptions::new().append(true).create_new(true).open(&path) {
                Ok(file) => break (path, file),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
                Err(source) => return Err(TfEventsError::Io { path, source }),
            }
        };
        let mut writer = Self { path, file };
        writer.write(Event { wall_time: now(), step: 0, what: Some(What::FileVersion("brain.Event:2".into())) })?;
        Ok(writer)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event as a record, in one write.
    pub fn write(&mut self, event: Event) -> Result<()> {
        let record = frame(&event.encode_to_vec());
        self.file.write_all(&record).map_err(|source| TfEventsError::Io { path: self.path.clone(), source })
    }

    fn summary(&mut self, step: i64, value: SummaryValue) -> Result<()> {
        let summary = proto::Summary { value: vec![value] };
        self.write(Event { wall_time: now(), step, what: Some(What::Summary(summary)) })
    }

    /// A scalar, as `SummaryWriter.add_scalar(tag, value, step)`.
    pub fn add_scalar(&mut self, tag: &str, value: f32, step: i64) -> Result<()> {
        let value = SummaryValue { tag: tag.to_owned(), metadata: None, value: Some(proto::Value::SimpleValue(value)) };
        self.summary(step, value)
    }

    /// A PNG image (`channels`: 1 gray, 3 RGB, 4 RGBA) of `width × height` pixels.
    pub fn add_png(
        &mut self,
        tag: &str,
        png: &[u8],
        (width, height): (u32, u32),
        channels: u8,
        step: i64,
    ) -> Result<()> {
        let image = proto::Image {
            height: height as i32,
            width: width as i32,
            colorspace: i32::from(channels),
            encoded_image_string: png.to_vec(),
        };
        let value = SummaryValue { tag: tag.to_owned(), metadata: None, value: Some(proto::Value::Image(image)) };
        self.summary(step, value)
    }

    /// A `SessionLog` `START` at `step`: readers drop the events of steps at
    /// or after `step` written before it (a resumed run's restart point).
    pub fn restart_at(&mut self, step: i64) -> Result<()> {
        let log = proto::SessionLog { status: proto::SESSION_START, ..Default::default() };
        self.write(Event { wall_time: now(), step, what: Some(What::SessionLog(log)) })
    }

    fn hparams(&mut self, tag: &str, data: HParamsData) -> Result<()> {
        let content = HParamsPluginData { version: 0, data: Some(data) }.encode_to_vec();
        let metadata = proto::SummaryMetadata {
            plugin_data: Some(proto::PluginData { plugin_name: HPARAMS_PLUGIN.to_owned(), content }),
        };
        // The empty float tensor TensorBoard's own hparams summaries carry.
        let tensor = proto::TensorProto {
            dtype: 1,
            tensor_shape: Some(proto::TensorShapeProto { dim: vec![proto::Dim { size: 0 }] }),
        };
        let value =
            SummaryValue { tag: tag.to_owned(), metadata: Some(metadata), value: Some(proto::Value::Tensor(tensor)) };
        self.summary(0, value)
    }

    /// The hparams plugin's session start: this run is a trial with these
    /// hyperparameters (TensorBoard's HPARAMS tab lists it, with the run's
    /// scalars as metrics). `group` names the session group ("" for the run itself).
    pub fn session_start(&mut self, hparams: &[(String, HParam)], group: &str) -> Result<()> {
        let hparams: HashMap<String, proto::ProtoValue> = hparams
            .iter()
            .map(|(name, value)| {
                let kind = match value {
                    HParam::Number(v) => proto::Kind::NumberValue(*v),
                    HParam::Text(s) => proto::Kind::StringValue(s.clone()),
                    HParam::Bool(b) => proto::Kind::BoolValue(*b),
                };
                (name.clone(), proto::ProtoValue { kind: Some(kind) })
            })
            .collect();
        let info = proto::SessionStartInfo { hparams, group_name: group.to_owned(), start_time_secs: now() };
        self.hparams(SESSION_START_INFO_TAG, HParamsData::SessionStartInfo(info))
    }

    /// The hparams plugin's session end.
    pub fn session_end(&mut self, status: SessionStatus) -> Result<()> {
        let info = proto::SessionEndInfo { status: status as i32, end_time_secs: now() };
        self.hparams(SESSION_END_INFO_TAG, HParamsData::SessionEndInfo(info))
    }

    /// Flushes to the disk (the data is already in the operating system's hands).
    pub fn sync(&mut self) -> Result<()> {
        self.file.sync_data().map_err(|source| TfEventsError::Io { path: self.path.clone(), source })
    }
}

/// Reads every complete record of an event file, checking both CRCs; a torn
/// last record (a crash while writing) is ignored, any other damage is an error.
pub fn read_events(path: &Path) -> Result<Vec<Event>> {
    let bytes = std::fs::read(path).map_err(|source| TfEventsError::Io { path: path.to_owned(), source })?;
    let corrupt =
        |offset: usize, what: &str| TfEventsError::Corrupt { path: path.to_owned(), offset, what: what.into() };
    let mut events = Vec::new();
    let mut at = 0;
    while bytes.len() - at >= 12 {
        let len_bytes = &bytes[at..at + 8];
        let crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
        if crc != masked_crc32c(len_bytes) {
            return Err(corrupt(at, "length checksum mismatch"));
        }
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes")) as usize;
        let Some(end) = (at + 12).checked_add(len).and_then(|e| e.checked_add(4)).filter(|&e| e <= bytes.len()) else {
            break;
        };
        let data = &bytes[at + 12..end - 4];
        if u32::from_le_bytes(bytes[end - 4..end].try_into().expect("4 bytes")) != masked_crc32c(data) {
            return Err(corrupt(at, "data checksum mismatch"));
        }
        events.push(Event::decode(data).map_err(|e| corrupt(at, &e.to_string()))?);
        at = end;
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CRC-32C's standard check value, masked as TFRecord does, and the frame layout.
    #[test]
    fn framing_matches_known_checksums() {
        // CRC-32C of "123456789" is 0xE3069283 (the standard check value).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        let expected = 0xE306_9283u32.rotate_right(15).wrapping_add(0xa282_ead8);
        assert_eq!(masked_crc32c(b"123456789"), expected);
        let record = frame(b"abc");
        assert_eq!(record.len(), 8 + 4 + 3 + 4);
        assert_eq!(&record[..8], &3u64.to_le_bytes());
        assert_eq!(&record[12..15], b"abc");
    }

    #[test]
    fn events_read_back_and_a_torn_tail_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::create(dir.path().join("tb")).unwrap();
        w.add_scalar("train/loss", 0.5, 10).unwrap();
        w.add_png("errors", b"\x89PNG fake", (3, 2), 3, 10).unwrap();
        w.session_start(&[("train.lr".into(), HParam::Number(0.01))], "").unwrap();
        let path = w.path().to_owned();
        assert!(path.file_name().unwrap().to_string_lossy().starts_with("events.out.tfevents."));
        drop(w);
        let events = read_events(&path).unwrap();
        assert_eq!(events.len(), 4);
        assert_eq!(events[0].what, Some(What::FileVersion("brain.Event:2".into())));
        let Some(What::Summary(s)) = &events[1].what else { panic!("{:?}", events[1]) };
        assert_eq!((events[1].step, s.value[0].tag.as_str()), (10, "train/loss"));
        assert_eq!(s.value[0].value, Some(proto::Value::SimpleValue(0.5)));
        let Some(What::Summary(s)) = &events[3].what else { panic!() };
        let content = &s.value[0].metadata.as_ref().unwrap().plugin_data.as_ref().unwrap().content;
        let data = HParamsPluginData::decode(content.as_slice()).unwrap();
        let Some(HParamsData::SessionStartInfo(info)) = data.data else { panic!() };
        assert_eq!(info.hparams["train.lr"].kind, Some(proto::Kind::NumberValue(0.01)));
        // A crash in the middle of a record: the complete ones still read.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        assert_eq!(read_events(&path).unwrap().len(), 3);
        // A flipped byte inside a record is reported.
        let mut bad = bytes.clone();
        bad[30] ^= 0xff;
        std::fs::write(&path, &bad).unwrap();
        let err = read_events(&path).unwrap_err();
        assert!(matches!(err, TfEventsError::Corrupt { .. }) && !err.is_config(), "{err}");
        // A second writer in the same folder starts its own file.
        let a = EventWriter::create(dir.path().join("tb")).unwrap();
        let b = EventWriter::create(dir.path().join("tb")).unwrap();
        assert_ne!(a.path(), b.path());
    }
}
