//! Dynamic batching on a dedicated inference thread.
//!
//! libtorch calls block, so the model never runs on the async executor: the
//! handlers put jobs into a bounded queue ([`Queue::submit`], full = 429) and
//! await the answer; one thread owns the model, takes the first job waiting,
//! then gathers more classification jobs until the batch holds
//! `max_batch_size` inputs or `max_queue_delay` has passed since the first
//! job was queued, runs them as one batch and answers each. Stream steps run
//! one at a time between batches.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lstm_model::StepState;
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::model::{Inputs, ServedModel};

/// What a job asks of the model.
#[derive(Debug)]
pub enum Work {
    /// Classify the inputs of one request.
    Classify(Inputs),
    /// Read one more row of a stream (`None`: the stream's first row).
    Step {
        /// The stream's state after the rows read so far.
        state: Option<StepState>,
        /// The row's values.
        row: Vec<f32>,
    },
}

/// What the model answered.
#[derive(Debug)]
pub enum Answer {
    /// Probabilities `count × classes` of a [`Work::Classify`].
    Probabilities(Vec<f32>),
    /// The new state and the probabilities of a [`Work::Step`].
    Stepped(StepState, Vec<f32>),
}

/// A queued job.
#[derive(Debug)]
struct Job {
    work: Work,
    queued: Instant,
    reply: oneshot::Sender<Result<Answer, ApiError>>,
}

/// How the inference thread batches.
#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    /// Most inputs in one batch (1: no batching).
    pub max_batch_size: usize,
    /// Longest wait for more jobs after the first of a batch was queued.
    pub max_queue_delay: Duration,
    /// Jobs the queue holds before answering 429.
    pub queue_capacity: usize,
    /// libtorch's intra-op threads, set when the inference thread starts.
    pub threads: usize,
}

/// The handlers' side of the queue.
#[derive(Debug)]
pub struct Queue {
    sender: SyncSender<Option<Job>>,
    capacity: usize,
    closed: AtomicBool,
    metrics: Metrics,
}

impl Queue {
    /// Queues `work`; the receiver gets the answer. A full queue is
    /// [`ApiError::QueueFull`], a closed one [`ApiError::ShuttingDown`].
    pub fn submit(&self, work: Work) -> Result<oneshot::Receiver<Result<Answer, ApiError>>, ApiError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(ApiError::ShuttingDown);
        }
        let (reply, answer) = oneshot::channel();
        self.metrics.queue_depth.inc();
        match self.sender.try_send(Some(Job { work, queued: Instant::now(), reply })) {
            Ok(()) => Ok(answer),
            Err(e) => {
                self.metrics.queue_depth.dec();
                Err(match e {
                    TrySendError::Full(_) => ApiError::QueueFull { capacity: self.capacity },
                    TrySendError::Disconnected(_) => ApiError::ShuttingDown,
                })
            }
        }
    }

    /// Whether the queue was closed (the server is shutting down).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Queues `work` and waits for its answer.
    pub async fn run(&self, work: Work) -> Result<Answer, ApiError> {
        self.submit(work)?.await.map_err(|_| ApiError::ShuttingDown)?
    }

    /// Takes no more jobs, lets the thread finish those queued, and waits for
    /// it to end (blocking: call from a blocking context).
    pub fn close_and_drain(&self, thread: std::thread::JoinHandle<()>) {
        self.closed.store(true, Ordering::SeqCst);
        // The end marker queues behind every job already waiting.
        if self.sender.send(None).is_ok() {
            let _ = thread.join();
        }
    }
}

/// Starts the inference thread owning `model`.
pub fn start(
    model: ServedModel,
    settings: BatchSettings,
    metrics: Metrics,
) -> std::io::Result<(Arc<Queue>, std::thread::JoinHandle<()>)> {
    let (sender, receiver) = mpsc::sync_channel(settings.queue_capacity);
    let queue = Arc::new(Queue {
        sender,
        capacity: settings.queue_capacity,
        closed: AtomicBool::new(false),
        metrics: metrics.clone(),
    });
    let thread = std::thread::Builder::new().name("inference".into()).spawn(move || {
        // libtorch's setting is process-wide for its own pool, but MKL's is
        // per calling thread: set it on the thread that runs the model.
        tch::set_num_threads(settings.threads.max(1) as i32);
        Batcher { model, settings, metrics, receiver, held: None }.run()
    })?;
    Ok((queue, thread))
}

/// The inference thread's state.
struct Batcher {
    model: ServedModel,
    settings: BatchSettings,
    metrics: Metrics,
    receiver: Receiver<Option<Job>>,
    /// A job taken from the queue that did not fit into the last batch.
    held: Option<Job>,
}

impl Batcher {
    /// Runs jobs until the end marker (or every sender is gone).
    fn run(mut self) {
        loop {
            let first = match self.held.take() {
                Some(job) => job,
                None => match self.receiver.recv() {
                    Ok(Some(job)) => self.dequeued(job),
                    Ok(None) | Err(_) => return,
                },
            };
            let (batch, end) = self.gather(first);
            self.run_batch(batch);
            if end {
                return;
            }
        }
    }

    fn dequeued(&self, job: Job) -> Job {
        self.metrics.queue_depth.dec();
        job
    }

    /// The batch starting with `first`: more classification jobs while they
    /// fit and the delay lasts. Also says whether the end marker was seen.
    fn gather(&mut self, first: Job) -> (Vec<Job>, bool) {
        let mut inputs = match &first.work {
            Work::Classify(inputs) => inputs.count,
            Work::Step { .. } => return (vec![first], false),
        };
        let deadline = first.queued + self.settings.max_queue_delay;
        let mut batch = vec![first];
        while inputs < self.settings.max_batch_size {
            let wait = deadline.saturating_duration_since(Instant::now());
            let job = match self.receiver.recv_timeout(wait) {
                Ok(Some(job)) => self.dequeued(job),
                Ok(None) | Err(RecvTimeoutError::Disconnected) => return (batch, true),
                Err(RecvTimeoutError::Timeout) => break,
            };
            match &job.work {
                Work::Classify(more) if inputs + more.count <= self.settings.max_batch_size => {
                    inputs += more.count;
                    batch.push(job);
                }
                _ => {
                    self.held = Some(job);
                    break;
                }
            }
        }
        (batch, false)
    }

    /// Runs one batch (classification jobs together, a step alone) and answers every job.
    fn run_batch(&self, batch: Vec<Job>) {
        let started = Instant::now();
        for job in &batch {
            self.metrics.queue_seconds.observe(started.duration_since(job.queued).as_secs_f64());
        }
        let mut jobs = Vec::with_capacity(batch.len());
        let mut parts = Vec::with_capacity(batch.len());
        for job in batch {
            match job.work {
                Work::Step { state, row } => {
                    let answer = self.step(state, &row);
                    self.metrics.compute_seconds.observe(started.elapsed().as_secs_f64());
                    let _ = job.reply.send(answer);
                }
                Work::Classify(inputs) => {
                    jobs.push((inputs.count, job.reply));
                    parts.push(inputs);
                }
            }
        }
        if jobs.is_empty() {
            return;
        }
        let inputs =
            if parts.len() == 1 { parts.swap_remove(0) } else { Inputs::concat(&parts, self.model.info().columns) };
        drop(parts);
        self.metrics.batch_size.observe(inputs.count as f64);
        let result = self.model.classify(&inputs);
        self.metrics.compute_seconds.observe(started.elapsed().as_secs_f64());
        let classes = self.model.info().class_names.len();
        let mut offset = 0;
        for (count, reply) in jobs {
            let answer = match &result {
                Ok(p) => Ok(Answer::Probabilities(p[offset * classes..(offset + count) * classes].to_vec())),
                Err(e) => Err(ApiError::Inference(e.to_string())),
            };
            offset += count;
            let _ = reply.send(answer);
        }
    }

    fn step(&self, state: Option<StepState>, row: &[f32]) -> Result<Answer, ApiError> {
        let state = match state {
            Some(state) => state,
            None => self.model.start_stream()?,
        };
        let (state, probabilities) = self.model.stream_row(&state, row)?;
        Ok(Answer::Stepped(state, probabilities))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lstm_model::{LstmClassifier, ModelConfig, ModelSpec, Precision};

    fn model(dir: &std::path::Path) -> ServedModel {
        let spec = ModelSpec::new(ModelConfig { hidden: 4, ..Default::default() }, 3, 2, vec!["a".into(), "b".into()]);
        LstmClassifier::new(spec, tch::Device::Cpu).unwrap().save(dir).unwrap();
        ServedModel::open(dir, Precision::Fp32).unwrap()
    }

    fn classify(count: usize) -> (Job, oneshot::Receiver<Result<Answer, ApiError>>) {
        let (reply, answer) = oneshot::channel();
        let work = Work::Classify(Inputs::dense(vec![0.5; count * 6], count, 3));
        (Job { work, queued: Instant::now(), reply }, answer)
    }

    #[test]
    fn a_full_queue_answers_queue_full() {
        let (sender, _receiver) = mpsc::sync_channel(1);
        let metrics = Metrics::new(4).unwrap();
        let queue = Queue { sender, capacity: 1, closed: AtomicBool::new(false), metrics: metrics.clone() };
        let work = || Work::Classify(Inputs::dense(vec![0.0; 6], 1, 3));
        assert!(queue.submit(work()).is_ok());
        let err = queue.submit(work()).unwrap_err();
        assert!(matches!(err, ApiError::QueueFull { capacity: 1 }), "{err}");
        assert_eq!(err.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(metrics.queue_depth.get(), 1);
        queue.closed.store(true, Ordering::SeqCst);
        assert!(matches!(queue.submit(work()), Err(ApiError::ShuttingDown)));
    }

    /// Jobs already waiting join the first one's batch up to the size limit;
    /// the one that does not fit starts the next batch; every job is answered.
    #[test]
    fn batches_gather_waiting_jobs_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (sender, receiver) = mpsc::sync_channel(8);
        let settings = BatchSettings {
            max_batch_size: 4,
            max_queue_delay: Duration::from_secs(3600),
            queue_capacity: 8,
            threads: 1,
        };
        let metrics = Metrics::new(4).unwrap();
        let mut batcher = Batcher { model: model(dir.path()), settings, metrics, receiver, held: None };
        let mut answers = Vec::new();
        for count in [1, 2, 1, 3] {
            let (job, answer) = classify(count);
            sender.send(Some(job)).unwrap();
            answers.push(answer);
        }
        let first = batcher.receiver.recv().unwrap().unwrap();
        let (batch, end) = batcher.gather(first);
        assert_eq!(batch.len(), 3, "1 + 2 + 1 inputs fill the batch of 4");
        assert!(!end);
        batcher.run_batch(batch);
        // The held job of 3 starts the next batch; the end marker ends the thread.
        sender.send(None).unwrap();
        batcher.run();
        for (answer, count) in answers.into_iter().zip([1, 2, 1, 3]) {
            let Ok(Ok(Answer::Probabilities(p))) = answer.blocking_recv() else { panic!("no answer") };
            assert_eq!(p.len(), count * 2);
        }
    }

    /// Sequences of different lengths from different requests share one
    /// padded batch, and each request gets what it would get alone.
    #[test]
    fn sequences_of_different_lengths_batch_with_the_answers_they_get_alone() {
        let dir = tempfile::tempdir().unwrap();
        let input = data_core::InputSpec::Sequence(data_core::SequenceInput { features: 2, points_per_step: 1 });
        let standardization = data_core::Standardization { mean: vec![0.5, -1.0], std: vec![2.0, 0.5] };
        let config = ModelConfig { hidden: 5, readout: lstm_model::Readout::Mean, ..Default::default() };
        let spec = ModelSpec::new(config, 4, 2, vec!["a".into(), "b".into(), "c".into()])
            .with_input(input, Some(standardization));
        LstmClassifier::new(spec, tch::Device::Cpu).unwrap().save(dir.path()).unwrap();
        let model = ServedModel::open(dir.path(), Precision::Fp32).unwrap();
        let values = |n: usize| (0..n).map(|i| ((i * 7 + 3) % 11) as f32 / 3.0 - 1.0).collect::<Vec<f32>>();
        let requests = [
            Inputs::dense(values(2 * 3 * 2), 2, 3),
            Inputs { values: values(6 * 2), count: 1, steps: 6, lengths: Some(vec![4]) },
            Inputs::dense(values(2), 1, 1),
        ];
        let alone: Vec<Vec<f32>> = requests.iter().map(|r| model.classify(r).unwrap()).collect();
        let (sender, receiver) = mpsc::sync_channel(8);
        let settings = BatchSettings {
            max_batch_size: 8,
            max_queue_delay: Duration::from_secs(3600),
            queue_capacity: 8,
            threads: 1,
        };
        let mut batcher = Batcher { model, settings, metrics: Metrics::new(8).unwrap(), receiver, held: None };
        let mut answers = Vec::new();
        for inputs in requests {
            let (reply, answer) = oneshot::channel();
            sender.send(Some(Job { work: Work::Classify(inputs), queued: Instant::now(), reply })).unwrap();
            answers.push(answer);
        }
        sender.send(None).unwrap();
        let first = batcher.receiver.recv().unwrap().unwrap();
        let (batch, end) = batcher.gather(first);
        assert_eq!((batch.len(), end), (3, true), "all three requests in one batch");
        batcher.run_batch(batch);
        for (answer, want) in answers.into_iter().zip(alone) {
            let Ok(Ok(Answer::Probabilities(got))) = answer.blocking_recv() else { panic!("no answer") };
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "batched {got:?} vs alone {want:?}");
            }
        }
    }
}
