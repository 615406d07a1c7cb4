//! TensorBoard's own reader (the `tensorboard` Python package's
//! EventAccumulator, in the project's venv) reads what EventWriter writes.

#[path = "../../../tests/cli/common/tensorboard.rs"]
mod tensorboard;

use tensorboard::tensorboard_read;
use tfevents::{EventWriter, HParam, SessionStatus};

#[test]
#[ignore = "needs tensorboard"]
fn tensorboard_reads_scalars_images_hparams_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let logdir = dir.path().join("tb");
    let mut w = EventWriter::create(&logdir).unwrap();
    w.session_start(
        &[("train.lr".into(), HParam::Number(0.003)), ("model.cell".into(), HParam::Text("gru".into()))],
        "",
    )
    .unwrap();
    for step in 1..=6 {
        w.add_scalar("train/loss", 1.0 / step as f32, step * 10).unwrap();
    }
    // A real 2x1 RGB PNG: TensorBoard keeps the bytes as they are.
    let mut png = Vec::new();
    image::RgbImage::from_raw(2, 1, vec![255, 0, 0, 0, 0, 255])
        .unwrap()
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    w.add_png("test/errors", &png, (2, 1), 3, 30).unwrap();
    drop(w);
    // A resumed process restarts at step 40: the first file's steps 40..60 are replaced.
    let mut w = EventWriter::create(&logdir).unwrap();
    w.restart_at(40).unwrap();
    for step in 4..=8 {
        w.add_scalar("train/loss", 2.0 / step as f32, step * 10).unwrap();
    }
    w.add_scalar("test/accuracy", 0.9635, 80).unwrap();
    w.session_end(SessionStatus::Success).unwrap();
    drop(w);

    let read = tensorboard_read(&logdir);
    let loss = read["scalars"]["train/loss"].as_array().unwrap();
    let steps: Vec<i64> = loss.iter().map(|p| p[0].as_i64().unwrap()).collect();
    assert_eq!(steps, [10, 20, 30, 40, 50, 60, 70, 80], "{read}");
    let values: Vec<f64> = loss.iter().map(|p| p[1].as_f64().unwrap()).collect();
    assert!((values[1] - 0.5).abs() < 1e-6 && (values[3] - 0.5).abs() < 1e-6, "{values:?}: step 40 from the restart");
    assert!((read["scalars"]["test/accuracy"][0][1].as_f64().unwrap() - 0.9635).abs() < 1e-6);
    let image = &read["images"]["test/errors"][0];
    assert_eq!((image[0].as_i64(), image[1].as_i64(), image[2].as_i64()), (Some(30), Some(2), Some(1)));
    assert_eq!(image[3].as_u64(), Some(png.len() as u64));
    let hp = &read["hparams"];
    assert_eq!(hp["start"]["train.lr"], 0.003);
    assert_eq!(hp["start"]["model.cell"], "gru");
    assert_eq!(hp["end_status"], 1);
}
