//! [`DataSource`]: what every data crate implements, so that the bin can
//! register a source with one line and every command sees one [`Dataset`].

use std::path::PathBuf;

use crate::Dataset;

/// A data source's error: a [`std::error::Error`] that knows whether the
/// user's config is at fault (exit status 2) or the data, the network or
/// libtorch (1). Messages name the file or the dotted config key
/// (`data.classes`) and say what would fix it.
pub trait SourceError: std::error::Error + Send + Sync + 'static {
    /// Whether a config value is at fault rather than the data.
    fn is_config(&self) -> bool;
}

/// The folders the application chooses for the configs that name none; data
/// crates assume no working directory and read no environment.
///
/// ```
/// let places = data_core::Locations {
///     default_dir: Some("data/mnist-sample".into()),
///     cache_dir: Some("/var/cache/my-app/data".into()),
/// };
/// assert!(places.cache_dir.is_some());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locations {
    /// The folder read when the config names none. `None`: such a config is
    /// an error asking for `data.dir`.
    pub default_dir: Option<PathBuf>,
    /// The folder holding one folder per named dataset (`<cache_dir>/mnist`),
    /// read and downloaded into when a named dataset has no `dir`. `None`:
    /// such a config is an error asking for `data.dir`.
    pub cache_dir: Option<PathBuf>,
}

/// A data source: its config (the `data` section of an experiment, which
/// selects it with `"source": NAME`) loads into the one [`Dataset`].
///
/// ```
/// use data_core::{DataSource, Dataset, InputSpec, Locations, SequenceInput, SourceError, Split};
/// use tch::{Kind, Tensor};
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("invalid data.n = {0}: give at least 1")]
/// struct Error(usize);
/// impl SourceError for Error {
///     fn is_config(&self) -> bool { true }
/// }
///
/// struct Zeros { n: usize }
/// impl DataSource for Zeros {
///     type Error = Error;
///     fn check(&self) -> Result<(), Error> {
///         if self.n == 0 { Err(Error(self.n)) } else { Ok(()) }
///     }
///     fn load(&self, _: &Locations) -> Result<Dataset, Error> {
///         self.check()?;
///         let split = || Split::new(
///             Tensor::zeros([self.n as i64, 5, 2], (Kind::Float, tch::Device::Cpu)),
///             Tensor::zeros([self.n as i64], (Kind::Int64, tch::Device::Cpu)),
///         );
///         Ok(Dataset {
///             train: split(),
///             validation: None,
///             test: split(),
///             class_names: vec!["zero".into()],
///             input: InputSpec::Sequence(SequenceInput { features: 2, points_per_step: 1 }),
///             standardization: None,
///         })
///     }
/// }
/// assert!(Zeros { n: 0 }.check().unwrap_err().is_config());
/// assert_eq!(Zeros { n: 3 }.load(&Locations::default())?.train.len(), 3);
/// # Ok::<(), Error>(())
/// ```
pub trait DataSource {
    /// The source's error type.
    type Error: SourceError;

    /// Checks the config without reading any file (every value that can be
    /// judged alone); [`DataSource::load`] checks it too. Default: nothing to check.
    fn check(&self) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Reads (or generates) the dataset; a config naming no folder reads
    /// those of `locations`.
    fn load(&self, locations: &Locations) -> Result<Dataset, Self::Error>;
}
