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
use super::batch::{BatchOptions, BatchRequest, BatchStats};
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
    /// The opening of the last message that other requests begin with too
    /// (an instruction before the text that varies): the prompt tokens up
    /// to there are computed once for all of them ([`BatchRequest::prefix`];
    /// the answers do not change).
    pub shared_head: Option<String>,
}

impl ChatRequest {
    pub fn new(messages: Vec<ChatMessage>, params: GenerationParams) -> Self {
        Self {
            messages,
            params,
            constraint: None,
            shared_head: None,
        }
    }

    /// This request with the shared opening `head` of its last message.
    pub fn sharing(mut self, head: impl Into<String>) -> Self {
        self.shared_head = Some(head.into());
        self
    }
}

impl ChatModel {
    /// The prompt of `r` and how many of its leading tokens go to the
    /// batcher as shared ([`BatchRequest::prefix`]), as [`Chat::answer_all`]
    /// computes them.
    pub fn request_prompt(&self, r: &ChatRequest) -> Result<(Vec<u32>, usize)> {
        prompt_of(&self.info, &self.tokenizer, self.format, r)
    }
}

/// The prompt of `r` and how many of its leading tokens it shares with
/// other requests: those its rendering has in common with the rendering
/// of the same conversation whose last message is only the shared head
/// (so the template's own tokens count, and a head the tokenizer merges
/// with what follows ends a token early). A function of the request
/// alone, so the split, and with it every result, is the same in any batch.
fn prompt_of(
    info: &ModelInfo,
    tokenizer: &GgufTokenizer,
    format: Option<ChatFormat>,
    r: &ChatRequest,
) -> Result<(Vec<u32>, usize)> {
    let prompt = render_prompt(info, tokenizer, format, &r.messages)?;
    let prefix = match (&r.shared_head, r.messages.last()) {
        (Some(head), Some(last)) => {
            let mut head_only = r.messages.clone();
            let n = head_only.len();
            head_only[n - 1] = ChatMessage {
                content: head.clone(),
                ..last.clone()
            };
            let other = render_prompt(info, tokenizer, format, &head_only)?;
            prompt
                .iter()
                .zip(&other)
                .take_while(|(a, b)| a == b)
                .count()
        }
        _ => 0,
    };
    Ok((prompt, prefix))
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
            match self.request_prompt(&r) {
                Ok((prompt, prefix)) => {
                    slots.push(out.len());
                    out.push(None);
                    batch.push(BatchRequest {
                        prompt,
                        params: r.params,
                        constraint: r.constraint.map(|c| c as Box<dyn TokenConstraint>),
                        prefix,
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
    prefix: usize,
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
            match prompt_of(&f.info, &f.tokenizer, f.format, &r) {
                Ok((prompt, prefix)) => {
                    let (reply, answer) = mpsc::channel();
                    let job = Job {
                        prompt,
                        prefix,
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
/// Returns what `work` returned, and how the serving ended: what the batch
/// did, or the engine failure that stopped it (every request still waiting
/// then gets an error, so `work`'s threads end with it).
pub fn serve<R: Send>(
    model: &mut ChatModel,
    work: impl FnOnce(ChatClient) -> R + Send,
) -> (R, Result<BatchStats>) {
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
) -> Result<BatchStats> {
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
            prefix: job.prefix,
        });
        replies.insert(id, job.reply);
    }
    loop {
        if batcher.is_idle() {
            // Nothing to run: wait for a request, or for every client to go.
            match queue.recv() {
                Ok(job) => submit(&mut batcher, &mut replies, job),
                Err(_) => return Ok(batcher.stats().clone()),
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
