//! Series of a `.ts` file to classify, a batch at a time: memory bounded by
//! the batch, whatever the file's size (`lstm-mnist predict` on `.ts` files).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use tch::Tensor;

use crate::parse::{Case, Labels, Missing, Reader};
use crate::{Result, TsError};

/// The most series per batch.
pub const BATCH_SERIES: usize = 256;
/// The most values (all series, all dimensions, padding included) per batch:
/// 2^24, 64 MiB of `f32`. A single longer series is a batch of its own.
pub const BATCH_VALUES: usize = 1 << 24;

/// Consecutive series of a file, padded to the batch's longest.
#[derive(Debug)]
pub struct SeriesBatch {
    /// Values `[n, T, F]` (`f32`, raw: not standardised), zeros after each
    /// series' end; `T` is the batch's longest series.
    pub features: Tensor,
    /// Each series' length `[n]` (`i64`).
    pub lengths: Tensor,
    /// Each series' class (index into the header's class names), when the
    /// file gives one.
    pub labels: Vec<Option<usize>>,
    /// Each series' line in the file (1-based).
    pub lines: Vec<usize>,
    /// Position of the batch's first series in the file (0-based).
    pub first_index: usize,
}

/// The series of one `.ts` file, read a batch at a time (labels optional).
#[derive(Debug)]
pub struct SeriesBatches {
    reader: Reader<BufReader<File>>,
    pending: Option<Case>,
    next_index: usize,
}

impl SeriesBatches {
    /// Opens `path` (a regular file; a folder, FIFO or device is refused
    /// before it is opened) and reads its header; missing values as `missing` says.
    pub fn open(path: &Path, missing: Missing) -> Result<Self> {
        let io = |source| TsError::Io { path: path.to_owned(), source };
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_file() {
            return Err(io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file")));
        }
        let file = File::open(path).map_err(io)?;
        let reader = Reader::new(BufReader::new(file), path, Labels::Optional, missing)?;
        Ok(SeriesBatches { reader, pending: None, next_index: 0 })
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        self.reader.path()
    }

    /// The file's header (class names of `@classLabel`, dimensions).
    pub fn header(&self) -> &crate::parse::Header {
        self.reader.header()
    }

    /// The next batch: up to [`BATCH_SERIES`] series and [`BATCH_VALUES`]
    /// values; `None` at the end of the file.
    pub fn next_batch(&mut self) -> Result<Option<SeriesBatch>> {
        let mut cases: Vec<Case> = Vec::new();
        let mut longest = 0;
        while cases.len() < BATCH_SERIES {
            let Some(case) = self.pending.take().map_or_else(|| self.reader.next_case(), |c| Ok(Some(c)))? else {
                break;
            };
            let dims = self.reader.header().dimensions.max(1);
            let grown = longest.max(case.length);
            if !cases.is_empty() && grown * dims * (cases.len() + 1) > BATCH_VALUES {
                self.pending = Some(case);
                break;
            }
            longest = grown;
            cases.push(case);
        }
        if cases.is_empty() {
            return Ok(None);
        }
        let first_index = self.next_index;
        self.next_index += cases.len();
        batch_of(&cases, self.reader.header().dimensions.max(1), first_index).map(Some)
    }
}

/// Pads `cases` of `dims` dimensions into one batch.
fn batch_of(cases: &[Case], dims: usize, first_index: usize) -> Result<SeriesBatch> {
    let steps = cases.iter().map(|c| c.length).max().unwrap_or(1);
    let mut values = vec![0f32; cases.len() * steps * dims];
    for (i, case) in cases.iter().enumerate() {
        let start = i * steps * dims;
        values[start..start + case.values.len()].copy_from_slice(&case.values);
    }
    let features = Tensor::f_from_slice(&values)?.f_reshape([cases.len() as i64, steps as i64, dims as i64])?;
    let lengths: Vec<i64> = cases.iter().map(|c| c.length as i64).collect();
    Ok(SeriesBatch {
        features,
        lengths: Tensor::f_from_slice(&lengths)?,
        labels: cases.iter().map(|c| c.label).collect(),
        lines: cases.iter().map(|c| c.line).collect(),
        first_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_in_batches_with_lengths_labels_and_positions() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.ts");
        let mut text = String::from("@dimensions 2\n@classLabel true a b\n@data\n");
        for i in 0..(BATCH_SERIES + 3) {
            let len = 1 + i % 4;
            let dim: Vec<String> = (0..len).map(|t| (i * 10 + t).to_string()).collect();
            let label = if i % 2 == 0 { ":b" } else { "" };
            text.push_str(&format!("{}:{}{label}\n", dim.join(","), dim.join(",")));
        }
        std::fs::write(&path, text).unwrap();
        let mut batches = SeriesBatches::open(&path, Missing::Refuse).unwrap();
        let first = batches.next_batch().unwrap().unwrap();
        assert_eq!(first.features.size(), [BATCH_SERIES as i64, 4, 2]);
        assert_eq!(Vec::<i64>::try_from(&first.lengths.narrow(0, 0, 5)).unwrap(), [1, 2, 3, 4, 1]);
        assert_eq!(&first.labels[..3], [Some(1), None, Some(1)]);
        assert_eq!(&first.lines[..2], [4, 5]);
        // Series 2 (length 3): values 20, 21, 22 in both dimensions, then padding.
        let s2: Vec<f32> = Vec::try_from(first.features.get(2).flatten(0, -1)).unwrap();
        assert_eq!(s2, [20.0, 20.0, 21.0, 21.0, 22.0, 22.0, 0.0, 0.0]);
        let second = batches.next_batch().unwrap().unwrap();
        assert_eq!((second.first_index, second.labels.len()), (BATCH_SERIES, 3));
        assert!(batches.next_batch().unwrap().is_none());
    }

    #[test]
    fn folders_and_unlabelled_headers() {
        let tmp = tempfile::tempdir().unwrap();
        let err = SeriesBatches::open(tmp.path(), Missing::Refuse).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        let path = tmp.path().join("u.ts");
        std::fs::write(&path, "@univariate true\n@classLabel false\n@data\n1,2,3\n").unwrap();
        let mut batches = SeriesBatches::open(&path, Missing::Refuse).unwrap();
        let batch = batches.next_batch().unwrap().unwrap();
        assert_eq!((batch.labels, batch.features.size()), (vec![None], vec![1, 3, 1]));
    }
}
