//! The UCR/UEA `.ts` format, read line by line in bounded memory.
//!
//! ```text
//! # comments start with '#'
//! @problemName JapaneseVowels
//! @timeStamps false
//! @missing false
//! @univariate false
//! @dimensions 12
//! @equalLength false
//! @classLabel true 1 2 3 4 5 6 7 8 9
//! @data
//! 1.86,1.89,1.93:-0.20,-0.19,-0.23: ... :1
//! ```
//!
//! Header keys are case-insensitive (`@timestamps` and `@timeStamps`). After
//! `@data`, one case per line: the dimensions separated by `:`, each a
//! comma-separated series of values, the class label last. `?` and `NaN` are
//! missing values, filled as [`Missing`] says (refused by default).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, TsError};

/// The longest line read (64 MiB): a case of 8 million values fits.
pub const MAX_LINE_BYTES: u64 = 64 << 20;
/// The most values (all cases, all dimensions) one file may hold (2^28, 1 GiB of `f32`).
pub const MAX_VALUES: usize = 1 << 28;
/// The most dimensions a series may have.
pub const MAX_DIMENSIONS: usize = 1 << 16;
/// The most classes a problem may have.
pub const MAX_CLASSES: usize = 1 << 16;

/// What to do with a missing value (`?` or `NaN`): `data.missing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Missing {
    /// A missing value is an error naming its file and line (default).
    #[default]
    Refuse,
    /// Replaced with 0.
    Zero,
    /// Replaced with the previous value of the same dimension in the same
    /// case (a leading gap takes the first value present; a dimension with
    /// no value at all becomes 0).
    Previous,
}

/// Whether each case must end with a class label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Labels {
    /// Every case has a label (training and test files).
    #[default]
    Required,
    /// A case may end with a label or not (files to classify).
    Optional,
}

/// The header of a `.ts` file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Header {
    /// `@problemName`, if given.
    pub problem_name: Option<String>,
    /// Values per time point: 1 for `@univariate true`, else `@dimensions`
    /// (or, without it, the count of the first case).
    pub dimensions: usize,
    /// `@equalLength`, if given.
    pub equal_length: Option<bool>,
    /// `@seriesLength`, if given: the length of every case when equal.
    pub series_length: Option<usize>,
    /// The class names of `@classLabel true <names...>`, in order.
    pub class_names: Vec<String>,
}

/// One series of a `.ts` file.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The values, time-major: point `t`, dimension `d` at `t * dimensions + d`.
    pub values: Vec<f32>,
    /// Number of time points.
    pub length: usize,
    /// Index of its class in [`Header::class_names`], when it has a label.
    pub label: Option<usize>,
    /// Its line number in the file (1-based).
    pub line: usize,
}

/// A whole `.ts` file.
#[derive(Debug, Clone, PartialEq)]
pub struct TsFile {
    /// The file read.
    pub path: PathBuf,
    /// Its header.
    pub header: Header,
    /// Its cases, in file order.
    pub cases: Vec<Case>,
}

/// Reads a `.ts` file; see [`parse`].
pub fn read(path: &Path, labels: Labels, missing: Missing) -> Result<TsFile> {
    let file = std::fs::File::open(path).map_err(|source| TsError::Io { path: path.to_owned(), source })?;
    parse(BufReader::new(file), path, labels, missing)
}

/// Parses `.ts` text from `reader`; `path` names the source in errors, which
/// say the line and what is wrong. Lines are capped at [`MAX_LINE_BYTES`] and
/// the file at [`MAX_VALUES`] values, so a huge or endless input is an error,
/// not an exhausted memory.
pub fn parse(reader: impl BufRead, path: &Path, labels: Labels, missing: Missing) -> Result<TsFile> {
    let mut cases = Reader::new(reader, path, labels, missing)?;
    let mut all = Vec::new();
    let mut total = 0usize;
    while let Some(case) = cases.next_case()? {
        total = total.saturating_add(case.values.len());
        if total > MAX_VALUES {
            return Err(malformed(path, case.line, format!("more than {MAX_VALUES} values in the file (the limit)")));
        }
        all.push(case);
    }
    Ok(TsFile { path: path.to_owned(), header: cases.header().clone(), cases: all })
}

/// A `.ts` file read one case at a time, in memory bounded by the longest
/// line ([`MAX_LINE_BYTES`]) whatever the file's size: for classifying large
/// files. The header is read when the reader is made.
///
/// ```
/// use ts_data::parse::{Labels, Missing, Reader};
/// let text = "@univariate true\n@classLabel true a b\n@data\n1,2,3:a\n4,5\n";
/// let mut reader = Reader::new(text.as_bytes(), "x.ts".as_ref(), Labels::Optional, Missing::Refuse)?;
/// assert_eq!(reader.header().class_names, ["a", "b"]);
/// assert_eq!(reader.next_case()?.map(|c| (c.length, c.label)), Some((3, Some(0))));
/// assert_eq!(reader.next_case()?.map(|c| (c.length, c.label)), Some((2, None)));
/// assert!(reader.next_case()?.is_none());
/// # Ok::<(), ts_data::TsError>(())
/// ```
pub struct Reader<R> {
    lines: Lines<R>,
    path: PathBuf,
    header: Header,
    labels: Labels,
    missing: Missing,
}

impl<R: BufRead> std::fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("path", &self.path).field("line", &self.lines.line).finish()
    }
}

impl<R: BufRead> Reader<R> {
    /// Reads the header of `reader` up to `@data`; `path` names it in errors.
    /// With [`Labels::Optional`] a file without `@classLabel true` is read
    /// too (its cases then have no label).
    pub fn new(reader: R, path: &Path, labels: Labels, missing: Missing) -> Result<Self> {
        let mut lines = Lines { reader, path: path.to_owned(), line: 0, buf: Vec::new() };
        let mut header = HeaderBuilder { labels, ..HeaderBuilder::default() };
        loop {
            let Some((line, text)) = lines.next_line()? else {
                return Err(malformed(path, lines.line, "no `@data` line: not a .ts file, or a truncated one".into()));
            };
            let text = text.trim();
            if !text.is_empty() && !text.starts_with('#') && header.take(text, path, line)? {
                break;
            }
        }
        Ok(Reader { lines, path: path.to_owned(), header: header.done, labels, missing })
    }

    /// The file's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header (`dimensions` known once the first case is read, when the
    /// header does not say).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The next case, `None` at the end of the file.
    pub fn next_case(&mut self) -> Result<Option<Case>> {
        while let Some((line, text)) = self.lines.next_line()? {
            let text = text.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let case = parse_case(text, &self.header, self.labels, self.missing, &self.path, line)?;
            if self.header.dimensions == 0 {
                self.header.dimensions = case.values.len() / case.length.max(1);
            }
            return Ok(Some(case));
        }
        Ok(None)
    }
}

fn malformed(path: &Path, line: usize, detail: String) -> TsError {
    TsError::Malformed { path: path.to_owned(), line, detail }
}

/// Lines of at most [`MAX_LINE_BYTES`], as text.
struct Lines<R> {
    reader: R,
    path: PathBuf,
    line: usize,
    buf: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    /// The next line and its number (1-based), `None` at the end.
    fn next_line(&mut self) -> Result<Option<(usize, &str)>> {
        self.buf.clear();
        self.line += 1;
        let io = |source| TsError::Io { path: self.path.to_owned(), source };
        let n = (&mut self.reader).take(MAX_LINE_BYTES + 1).read_until(b'\n', &mut self.buf).map_err(io)?;
        if n == 0 {
            self.line -= 1;
            return Ok(None);
        }
        if n as u64 > MAX_LINE_BYTES {
            return Err(malformed(&self.path, self.line, format!("line longer than {MAX_LINE_BYTES} bytes")));
        }
        std::str::from_utf8(&self.buf)
            .map(|text| Some((self.line, text)))
            .map_err(|_| malformed(&self.path, self.line, "not UTF-8 text: not a .ts file".into()))
    }
}

/// The header as it is read; `dimensions` 0 until known.
#[derive(Default)]
struct HeaderBuilder {
    done: Header,
    univariate: Option<bool>,
    labelled: bool,
    labels: Labels,
}

impl HeaderBuilder {
    /// Takes one header line; returns whether it was `@data`.
    fn take(&mut self, text: &str, path: &Path, line: usize) -> Result<bool> {
        let bad = |detail: String| Err(malformed(path, line, detail));
        let Some(rest) = text.strip_prefix('@') else {
            return bad(format!(
                "`{}` before `@data`: expected a header line `@key value` or a `#` comment",
                cut(text)
            ));
        };
        let mut words = rest.split_whitespace();
        let key = words.next().unwrap_or("").to_ascii_lowercase();
        let values: Vec<&str> = words.collect();
        let flag = |values: &[&str]| match values.first().map(|v| v.to_ascii_lowercase()).as_deref() {
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            _ => Err(malformed(path, line, format!("`@{key}` needs `true` or `false`"))),
        };
        let number = |values: &[&str]| {
            values.first().and_then(|v| v.parse::<usize>().ok()).filter(|n| *n > 0).ok_or_else(|| {
                malformed(path, line, format!("`@{key}` needs a positive whole number, not `{}`", values.join(" ")))
            })
        };
        match key.as_str() {
            "problemname" => self.done.problem_name = values.first().map(|v| (*v).to_owned()),
            "timestamps" if flag(&values)? => {
                return bad("time-stamped series (`@timeStamps true`) are not supported: give the values only".into())
            }
            "timestamps" | "missing" => {
                flag(&values)?;
            }
            "univariate" => {
                self.univariate = Some(flag(&values)?);
                if self.univariate == Some(true) {
                    self.done.dimensions = 1;
                }
            }
            "dimensions" => self.done.dimensions = number(&values)?.min(MAX_DIMENSIONS + 1),
            "equallength" => self.done.equal_length = Some(flag(&values)?),
            "serieslength" => self.done.series_length = Some(number(&values)?),
            "classlabel" => self.class_labels(&values, path, line, flag(&values)?)?,
            "targetlabel" => {
                return bad("`@targetLabel`: a regression problem; ts-data reads classification problems \
                            (`@classLabel true <names...>`)"
                    .into())
            }
            "data" => return self.finish(path, line).map(|()| true),
            _ => return bad(format!("unknown header key `@{key}`")),
        }
        Ok(false)
    }

    fn class_labels(&mut self, values: &[&str], path: &Path, line: usize, labelled: bool) -> Result<()> {
        self.labelled = labelled;
        let names: Vec<String> = values.iter().skip(1).map(|v| (*v).to_owned()).collect();
        if labelled && names.len() < 2 {
            return Err(malformed(path, line, "`@classLabel true` needs at least two class names".into()));
        }
        if names.len() > MAX_CLASSES {
            return Err(malformed(path, line, format!("more than {MAX_CLASSES} class names")));
        }
        if let Some(dup) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)) {
            return Err(malformed(path, line, format!("class name `{}` given twice", dup.1)));
        }
        self.done.class_names = names;
        Ok(())
    }

    fn finish(&mut self, path: &Path, line: usize) -> Result<()> {
        if !self.labelled && self.labels == Labels::Required {
            return Err(malformed(
                path,
                line,
                "no `@classLabel true <names...>` before `@data`: the class names are needed".into(),
            ));
        }
        if self.done.dimensions > MAX_DIMENSIONS {
            return Err(malformed(path, line, format!("more than {MAX_DIMENSIONS} dimensions")));
        }
        Ok(())
    }
}

/// At most 40 characters of `text`, for a message.
fn cut(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_owned(),
    }
}

/// One data line: `values:values:...:label`.
fn parse_case(text: &str, header: &Header, labels: Labels, missing: Missing, path: &Path, line: usize) -> Result<Case> {
    let bad = |detail: String| Err(malformed(path, line, detail));
    let mut fields: Vec<&str> = text.split(':').collect();
    let dims = if header.dimensions == 0 { fields.len().saturating_sub(1).max(1) } else { header.dimensions };
    let label = match (fields.len() == dims + 1, labels) {
        (true, _) => fields.pop().map(str::trim),
        (false, Labels::Optional) if fields.len() == dims => None,
        _ => {
            let want = if labels == Labels::Required { "then the class label" } else { "then optionally the label" };
            return bad(format!(
                "{} `:`-separated fields: expected {dims} dimension{} {want}",
                fields.len(),
                if dims == 1 { "" } else { "s" }
            ));
        }
    };
    let label = match label {
        None => None,
        Some(name) => match header.class_names.iter().position(|c| c == name) {
            Some(i) => Some(i),
            None => {
                return bad(format!(
                    "class label `{}` is not one of `@classLabel`'s: {}",
                    cut(name),
                    header.class_names.join(" ")
                ))
            }
        },
    };
    let mut series: Vec<Vec<f32>> = Vec::with_capacity(dims);
    for (d, field) in fields.iter().enumerate() {
        series.push(parse_values(field, d, path, line)?);
    }
    let length = series[0].len();
    if let Some(d) = series.iter().position(|s| s.len() != length) {
        return bad(format!(
            "dimension {} has {} values but dimension 1 has {length}: every dimension of a case must have the same length",
            d + 1,
            series[d].len()
        ));
    }
    if let (Some(true), Some(want)) = (header.equal_length, header.series_length) {
        if length != want {
            return bad(format!("{length} values per dimension, but the header says `@seriesLength {want}`"));
        }
    }
    fill_missing(&mut series, missing).map_err(|(d, t)| TsError::MissingValue {
        path: path.to_owned(),
        line,
        dimension: d + 1,
        point: t + 1,
    })?;
    let mut values = Vec::with_capacity(length * dims);
    for t in 0..length {
        values.extend(series.iter().map(|s| s[t]));
    }
    Ok(Case { values, length, label, line })
}

/// The comma-separated values of dimension `d` (0-based); missing ones NaN.
fn parse_values(field: &str, d: usize, path: &Path, line: usize) -> Result<Vec<f32>> {
    let field = field.trim();
    if field.is_empty() {
        return Err(malformed(path, line, format!("dimension {} has no value", d + 1)));
    }
    field
        .split(',')
        .enumerate()
        .map(|(t, v)| {
            let v = v.trim();
            if v == "?" || v.eq_ignore_ascii_case("nan") {
                return Ok(f32::NAN);
            }
            match v.parse::<f32>() {
                Ok(x) if x.is_finite() => Ok(x),
                _ => Err(malformed(
                    path,
                    line,
                    format!(
                        "`{}` at dimension {}, point {} is not a finite number (nor `?` for missing)",
                        cut(v),
                        d + 1,
                        t + 1
                    ),
                )),
            }
        })
        .collect()
}

/// Fills NaN values as `missing` says; `Err((dimension, point))` (0-based)
/// of the first one when it says refuse.
fn fill_missing(series: &mut [Vec<f32>], missing: Missing) -> std::result::Result<(), (usize, usize)> {
    for (d, s) in series.iter_mut().enumerate() {
        let Some(first_gap) = s.iter().position(|v| v.is_nan()) else { continue };
        match missing {
            Missing::Refuse => return Err((d, first_gap)),
            Missing::Zero => s.iter_mut().filter(|v| v.is_nan()).for_each(|v| *v = 0.0),
            Missing::Previous => {
                let mut last = s.iter().copied().find(|v| !v.is_nan()).unwrap_or(0.0);
                for v in s.iter_mut() {
                    if v.is_nan() {
                        *v = last;
                    } else {
                        last = *v;
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
