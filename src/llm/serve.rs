//! A chat model shared by many threads, batched across all of them.
//!
//! The pipeline's stages (translation, summary, LLM facts) are written as
//! plain sequential code over the [`Chat`] trait: ask, read the answer,
//! maybe ask again. Run on a [`ChatModel`] directly, a stage's requests
//! batch only among themselves ([`Chat::answer_all`]). Run on a
//! [`ChatClient`] from [`serve`], the stages of many articles run at once,
//! each on its own thread, and every request of every article goes into one
//! continuous batch on the model's thread: a request is admitted as soon as
//! it is asked and a slot is free, and its thread resumes the moment its
//! answer is complete. Retries and second drafts go back into the same
//! queue. Outputs do not depend on any of this (see [`super::batch`]): with
//! greedy decoding an article's text is the same whether it ran alone or
//! next to seven others.
use super::batch::{BatchOptions, BatchRequest};
use super::tokenizer::GgufTokenizer;
use super::{render_prompt, TokenConstraint};
use super::{ChatFormat, ChatMessage, ChatModel, Generation, GenerationParams, ModelInfo};
use crate::{Error, Result};
use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::Arc;

/// One conversation to answer.
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub params: GenerationParams,
    /// Restricts which tokens may be generated (e.g. a JSON schema).
    pub constraint: Option<Box<dyn TokenConstraint + Send>>,
}

impl ChatRequest {
    pub fn new(messages: Vec<ChatMessage>, params: GenerationParams) -> Self {
        Self {
            messages,
            params,
            constraint: None,
        }
    }
}

/// What the pipeline's stages need of a chat model.
pub trait Chat {
    /// The usable context, in tokens.
    fn context_length(&self) -> usize;
    /// Tokens of `text` as plain text.
    fn count_tokens(&self, text: &str) -> Result<usize>;
    /// Answer every request, batched where the model can; one result per
    /// request, in order. A request's own failure (too long, over the KV
    /// budget) is its result; an engine failure is the error.
    fn answer_all(&mut self, requests: Vec<ChatRequest>) -> Result<Vec<Result<Generation>>>;

    /// Answer one request.
    fn answer(&mut self, request: ChatRequest) -> Result<Generation> {
        self.answer_all(vec![request])?
            .pop()
            .expect("one result per request")
    }
}

impl Chat for ChatModel {
    fn context_length(&self) -> usize {
        self.info.context_length
    }

    fn count_tokens(&self, text: &str) -> Result<usize> {
        ChatModel::count_tokens(self, text)
    }

    fn answer_all(&mut self, requests: Vec<ChatRequest>) -> Result<Vec<Result<Generation>>> {
        let mut out: Vec<Option<Result<Generation>>> = Vec::with_capacity(requests.len());
        let mut batch = Vec::new();
        let mut slots = Vec::new();
        for r in requests {
            match self.chat_prompt(&r.messages) {
                Ok(prompt) => {
                    slots.push(out.len());
                    out.push(None);
                    batch.push(BatchRequest {
                        prompt,
                        params: r.params,
                        constraint: r.constraint.map(|c| c as Box<dyn TokenConstraint>),
                    });
                }
                Err(e) => out.push(Some(Err(e))),
            }
        }
        let options = self.batch_options();
        let (results, _) = self.generate_batch(batch, options)?;
        for (slot, r) in slots.into_iter().zip(results) {
            out[slot] = Some(r);
        }
        Ok(out
            .into_iter()
            .map(|r| r.expect("every slot filled"))
            .collect())
    }
}

/// A request on its way to the model's thread, with where to answer.
struct Job {
    prompt: Vec<u32>,
    params: GenerationParams,
    constraint: Option<Box<dyn TokenConstraint + Send>>,
    reply: mpsc::Sender<Result<Generation>>,
}

/// The prompt side of a model (tokenizer, chat format, window), shared
/// with the threads that ask it.
struct Frontend {
    info: ModelInfo,
    tokenizer: Arc<GgufTokenizer>,
    format: Option<ChatFormat>,
}

/// A handle on a model served by [`serve`]; clone one per thread.
#[derive(Clone)]
pub struct ChatClient {
    front: Arc<Frontend>,
    jobs: mpsc::Sender<Job>,
}

impl Chat for ChatClient {
    fn context_length(&self) -> usize {
        self.front.info.context_length
    }

    fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(self.front.tokenizer.encode(text, false)?.len())
    }

    fn answer_all(&mut self, requests: Vec<ChatRequest>) -> Result<Vec<Result<Generation>>> {
        // Send them all before waiting, so that they run in one batch.
        let mut pending = Vec::with_capacity(requests.len());
        for r in requests {
            let f = &self.front;
            match render_prompt(&f.info, &f.tokenizer, f.format, &r.messages) {
                Ok(prompt) => {
                    let (reply, answer) = mpsc::channel();
                    let job = Job {
                        prompt,
                        params: r.params,
                        constraint: r.constraint,
                        reply,
                    };
                    self.jobs.send(job).map_err(|_| stopped())?;
                    pending.push(Ok(answer));
                }
                Err(e) => pending.push(Err(e)),
            }
        }
        pending
            .into_iter()
            .map(|p| match p {
                Ok(answer) => answer.recv().map_err(|_| stopped()),
                Err(e) => Ok(Err(e)),
            })
            .collect()
    }
}

fn stopped() -> Error {
    Error::Generation("the model's thread stopped (see the error before this one)".into())
}

/// Run `work` with a client of `model`, serving every request its threads
/// make in one continuous batch (the model's [`ChatModel::batch_options`])
/// on this thread, until `work` has returned and every client is dropped.
/// Returns what `work` returned, and how the serving ended: an engine
/// failure stops it, and every request still waiting then gets an error
/// (so `work`'s threads end with it).
pub fn serve<R: Send>(
    model: &mut ChatModel,
    work: impl FnOnce(ChatClient) -> R + Send,
) -> (R, Result<()>) {
    let (jobs, queue) = mpsc::channel::<Job>();
    let client = ChatClient {
        front: Arc::new(Frontend {
            info: model.info.clone(),
            tokenizer: model.tokenizer.clone(),
            format: model.format,
        }),
        jobs,
    };
    let options: BatchOptions = model.batch_options();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || work(client));
        let served = serve_queue(model, options, &queue);
        // Unblock whoever still waits (after a failure), then collect.
        drop(queue);
        let out = worker
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (out, served)
    })
}

fn serve_queue(
    model: &mut ChatModel,
    options: BatchOptions,
    queue: &mpsc::Receiver<Job>,
) -> Result<()> {
    let mut batcher = model.batcher(options);
    let mut replies: HashMap<usize, mpsc::Sender<Result<Generation>>> = HashMap::new();
    fn submit(
        batcher: &mut super::Batcher<'_, 'static>,
        replies: &mut HashMap<usize, mpsc::Sender<Result<Generation>>>,
        job: Job,
    ) {
        let id = batcher.submit(BatchRequest {
            prompt: job.prompt,
            params: job.params,
            constraint: job.constraint.map(|c| c as Box<dyn TokenConstraint>),
        });
        replies.insert(id, job.reply);
    }
    loop {
        if batcher.is_idle() {
            // Nothing to run: wait for a request, or for every client to go.
            match queue.recv() {
                Ok(job) => submit(&mut batcher, &mut replies, job),
                Err(_) => return Ok(()),
            }
        }
        while let Ok(job) = queue.try_recv() {
            submit(&mut batcher, &mut replies, job);
        }
        let done = batcher.step()?;
        for (id, result) in done {
            if let Some(reply) = replies.remove(&id) {
                // A thread that gave up waiting is no error here.
                let _ = reply.send(result);
            }
        }
    }
}
