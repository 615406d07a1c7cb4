//! `predict` and `explain` on UCR/UEA `.ts` files, for models of series
//! (model.json input `sequence`): each file is read a batch of series at a
//! time (`ts_data::SeriesBatches`), so memory stays that of one batch
//! whatever the file's size. The `inference` crate's `Predictor` applies the
//! model's per-dimension standardisation, and the model reads each series up
//! to its own length, `points_per_step` points per step.

use std::io::Write;
use std::path::{Path, PathBuf};

use data_core::InputSpec;
use inference::{InferenceError, Predictor};
use ts_data::{Missing, SeriesBatch, SeriesBatches};

use eval::explain::Explanation;
use eval::series::{explain_sequences, series_png, SeriesPicture};
use tch::{Kind, Tensor};

use super::predict::{Output, PredictError};
use crate::Failure;

/// Opens every `.ts` file before anything is printed (a missing file, a
/// folder or a malformed header is an error naming it).
pub(crate) fn open_all(files: &[PathBuf]) -> Result<Vec<SeriesBatches>, PredictError> {
    files.iter().map(|file| Ok(SeriesBatches::open(file, Missing::Refuse)?)).collect()
}

/// Checks that a batch's series have the dimensions the model reads.
pub(crate) fn check_dimensions(predictor: &Predictor, path: &Path, batch: &SeriesBatch) -> Result<(), PredictError> {
    let InputSpec::Sequence(input) = predictor.input() else { return Ok(()) };
    let dims = batch.features.size()[2];
    if dims != i64::from(input.features) {
        return Err(InferenceError::WrongInput {
            path: path.to_owned(),
            detail: format!(
                "series of {dims} dimensions, but the model reads series of {} dimensions (its training problem's)",
                input.features
            ),
        }
        .into());
    }
    Ok(())
}

/// Classifies every series of the `.ts` `files` with `predictor`, one
/// output row per series (the file's label, when it gives one, beside the
/// class). When every series has a label, prints the accuracy to stderr.
pub(crate) fn predict<W: Write>(
    predictor: &Predictor,
    files: &[PathBuf],
    output: &mut Output<'_, W>,
) -> Result<(), PredictError> {
    let inputs = open_all(files)?;
    let (mut labelled, mut correct, mut total) = (0usize, 0usize, 0usize);
    for mut input in inputs {
        let path = input.path().to_owned();
        let names = input.header().class_names.clone();
        while let Some(batch) = input.next_batch()? {
            check_dimensions(predictor, &path, &batch)?;
            let predictions = predictor.sequences(&batch.features, Some(&batch.lengths))?;
            for (i, prediction) in predictions.iter().enumerate() {
                let label = batch.labels[i].and_then(|l| names.get(l)).map(String::as_str);
                total += 1;
                if let Some(label) = label {
                    labelled += 1;
                    correct += usize::from(label == prediction.name);
                }
                output.write(&path, Some(batch.first_index + i), prediction, (None, label))?;
            }
        }
    }
    if labelled > 0 && labelled == total {
        eprintln!("accuracy {:.4} ({correct} of {labelled} labelled series)", correct as f64 / labelled as f64);
    }
    Ok(())
}

/// Where `explain` sends each series' explanation: its file, its index,
/// the explanation, and a function drawing its picture (PNG bytes).
pub(crate) type Emit<'a> = dyn FnMut(&Path, Option<usize>, &Explanation, &dyn Fn() -> Result<Vec<u8>, PredictError>) -> Result<(), Failure>
    + 'a;

/// Explains every series of one `.ts` file with `predictor`, a batch at a
/// time: the class probabilities after each of a series' real steps
/// (`points_per_step` points each), passed to `emit` with a function that
/// draws its picture (the series' channels beside the probabilities).
pub(crate) fn explain(predictor: &Predictor, mut input: SeriesBatches, emit: &mut Emit<'_>) -> Result<(), Failure> {
    let path = input.path().to_owned();
    let model = predictor.model();
    while let Some(batch) = input.next_batch().map_err(PredictError::from)? {
        check_dimensions(predictor, &path, &batch)?;
        let x = predictor.standardized(&batch.features).map_err(PredictError::from)?;
        let (steps, step_lengths) = match model.series_input(&x, Some(&batch.lengths)).map_err(PredictError::from)? {
            Some(grouped) => grouped,
            None => (x.shallow_clone(), Some(batch.lengths.shallow_clone())),
        };
        let explained =
            explain_sequences(model, &steps, step_lengths.as_ref(), predictor.compute()).map_err(PredictError::from)?;
        let lengths = Vec::<i64>::try_from(&batch.lengths).map_err(explain_err)?;
        for (i, e) in explained.iter().enumerate() {
            let picture = || picture_png(predictor, &x, (i, lengths[i]), e);
            emit(&path, Some(batch.first_index + i), e, &picture)?;
        }
    }
    Ok(())
}

/// The explain picture of series `i` (its `len` real points) of the
/// standardised batch `x`.
fn picture_png(
    predictor: &Predictor,
    x: &Tensor,
    (i, len): (usize, i64),
    e: &Explanation,
) -> Result<Vec<u8>, PredictError> {
    let one = x.f_select(0, i as i64).and_then(|s| s.f_narrow(0, 0, len.max(1))).map_err(explain_err)?;
    let features = one.size()[1] as usize;
    let values = Vec::<f32>::try_from(one.f_to_kind(Kind::Float).and_then(|v| v.f_reshape([-1])).map_err(explain_err)?)
        .map_err(explain_err)?;
    let picture = SeriesPicture {
        values: &values,
        features,
        explanation: e,
        class_names: &predictor.model().spec().class_names,
        truth: None,
    };
    Ok(series_png(&picture)?)
}

fn explain_err(e: tch::TchError) -> PredictError {
    PredictError::from(InferenceError::from(e))
}
