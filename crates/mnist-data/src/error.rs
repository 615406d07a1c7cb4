use std::path::PathBuf;

/// Everything that can go wrong while reading a dataset.
///
/// Every variant names the file involved and says what would fix it.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// None of the accepted file names exists in the dataset folder.
    #[error(
        "{what}: no file found in {dir}; looked for {tried}. Point `data.dir` at a folder \
         holding the four standard MNIST IDX files (gzipped or raw), or set `data.dataset` to \
         \"mnist\" or \"fashion-mnist\" with `data.download: true` to fetch them",
        dir = dir.display(),
        tried = tried.join(", ")
    )]
    MissingFile {
        /// The dataset folder.
        dir: PathBuf,
        /// Which file (`training images`, ...).
        what: &'static str,
        /// The file names looked for.
        tried: Vec<String>,
    },

    /// One of the accepted names exists but is not a regular file (a FIFO, a
    /// folder, a device, a symbolic link loop).
    #[error(
        "{what}: {} exists but is {kind}, not a regular file; replace it with the IDX file (gzipped or raw)",
        path.display()
    )]
    NotRegularFile {
        /// Which file (`training images`, ...).
        what: &'static str,
        /// The entry found.
        path: PathBuf,
        /// What it is, in words (`a FIFO (named pipe)`, `a folder`, ...).
        kind: String,
    },

    /// The dataset folder itself does not exist or is not a folder.
    #[error("dataset folder {} does not exist or is not a folder: set `data.dir` to an existing folder", .0.display())]
    MissingDir(PathBuf),

    /// An I/O error (unreadable file, broken gzip stream, ...).
    #[error("{}: {source}; check that the file is readable and not corrupt", path.display())]
    Io {
        /// The file or folder at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The file does not start with the IDX magic number expected for it.
    #[error(
        "{}: not an IDX {expected} file (magic number {found:#010x}, expected {expected_magic:#010x}); \
         the file is corrupt or is not the file its name says",
        path.display()
    )]
    BadMagic {
        /// The file or folder at fault.
        path: PathBuf,
        /// The kind of IDX file expected (`images` or `labels`).
        expected: &'static str,
        /// The magic number of that kind.
        expected_magic: u32,
        /// The magic number found.
        found: u32,
    },

    /// The IDX header declares an element type other than unsigned byte.
    #[error(
        "{}: IDX element type {code:#04x} ({name}) is not supported; only unsigned byte (0x08) data is",
        path.display()
    )]
    UnsupportedType {
        /// The file or folder at fault.
        path: PathBuf,
        /// The element type code of the header.
        code: u8,
        /// The element type's name.
        name: &'static str,
    },

    /// The header or the data size disagree with each other.
    #[error("{}: {detail}; the file is truncated or corrupt, download or regenerate it", path.display())]
    BadSize {
        /// The file or folder at fault.
        path: PathBuf,
        /// What is wrong, in words.
        detail: String,
    },

    /// The image and label files of one split disagree.
    #[error(
        "{} holds {images} images but {} holds {labels} labels; the two files of a split must match",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// The labels file.
        labels_path: PathBuf,
        /// Number of images.
        images: usize,
        /// Number of labels.
        labels: usize,
    },

    /// A label is outside the class range of the dataset.
    #[error(
        "{}: label {label} at index {index} is outside 0..{classes}; for a dataset of more classes, \
         give one name per class in data.class_names",
        path.display()
    )]
    LabelOutOfRange {
        /// The labels file.
        path: PathBuf,
        /// Position of the label in the file.
        index: usize,
        /// The label.
        label: u8,
        /// Number of classes.
        classes: usize,
    },

    /// The training and test splits have images of different shapes.
    #[error(
        "{} holds {}x{} images but {} holds {}x{} images; both splits must have the same image size",
        train.display(), train_shape.0, train_shape.1, test.display(), test_shape.0, test_shape.1
    )]
    ShapeMismatch {
        /// The training images file.
        train: PathBuf,
        /// Its image size (rows, columns).
        train_shape: (usize, usize),
        /// The test images file.
        test: PathBuf,
        /// Its image size (rows, columns).
        test_shape: (usize, usize),
    },

    /// A config value cannot be used (the shared [`config_error::InvalidConfig`]:
    /// the dotted key, the value, what would fix it).
    #[error(transparent)]
    InvalidConfig(#[from] config_error::InvalidConfig),

    /// A file could not be downloaded from any mirror.
    #[error(
        "{}: could not download it from any mirror ({}); check the network, set `data.mirrors`, \
         or put the file there yourself",
        path.display(),
        attempts.iter().map(|a| format!("{}: {}", a.url, a.reason)).collect::<Vec<_>>().join("; ")
    )]
    Download {
        /// The file or folder at fault.
        path: PathBuf,
        /// Every URL tried and why it failed.
        attempts: Vec<DownloadAttempt>,
    },

    /// libtorch refused an operation (the message's first line: libtorch
    /// appends C++ stack frames, which say nothing to a user).
    #[error("libtorch error: {}", config_error::first_line(.0))]
    Torch(#[from] tch::TchError),

    /// A split that does not fit together, from the data core.
    #[error(transparent)]
    Core(data_core::DataCoreError),
}

impl DataError {
    /// An [`InvalidConfig`](Self::InvalidConfig) error for the dotted config key `key`.
    pub fn invalid_config(key: impl Into<String>, value: impl ToString, hint: impl Into<String>) -> Self {
        DataError::InvalidConfig(config_error::InvalidConfig::new(key, value, hint))
    }

    /// Whether the config is at fault (exit status 2 in the bin): an invalid
    /// `data` value, or `data.dir` naming a folder that does not exist or
    /// lacks the dataset's files. Damaged files, I/O and downloads are not (1).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            DataError::InvalidConfig(_)
                | DataError::MissingDir(_)
                | DataError::MissingFile { .. }
                | DataError::NotRegularFile { .. }
        )
    }
}

impl data_core::SourceError for DataError {
    fn is_config(&self) -> bool {
        DataError::is_config(self)
    }
}

/// A data-core error in this crate's terms: a config value keeps its key,
/// libtorch stays libtorch; constant pixels are reported by the caller,
/// which knows the file.
impl From<data_core::DataCoreError> for DataError {
    fn from(e: data_core::DataCoreError) -> Self {
        match e {
            data_core::DataCoreError::InvalidConfig(e) => DataError::InvalidConfig(e),
            data_core::DataCoreError::Torch(e) => DataError::Torch(e),
            other => DataError::Core(other),
        }
    }
}

/// One failed try at downloading a file: the URL and why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadAttempt {
    /// The URL tried.
    pub url: String,
    /// What went wrong (HTTP status, checksum mismatch, truncated body, ...).
    pub reason: String,
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, DataError>;
