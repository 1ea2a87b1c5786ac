//! Chat prompt formats, detected from the GGUF `tokenizer.chat_template` text.
//!
//! No Jinja engine: the known families' formats are rendered directly, as a
//! list of [`Segment`]s so that role markers become their special tokens
//! while message content is always tokenized as plain text (text such as
//! `<|im_end|>` inside an article cannot end a turn).
use super::Architecture;
use serde::{Deserialize, Serialize};

/// Who wrote a chat message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a conversation.
#[derive(Clone, Debug, Serialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// A piece of a rendered prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// The model's BOS token.
    Bos,
    /// Text of a special token (must exist in the vocabulary).
    Special(&'static str),
    /// Plain text, tokenized without special-token parsing.
    Text(String),
}

/// The prompt format families, as model metadata names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptFormat {
    /// `<|im_start|>role … <|im_end|>` (Qwen2, SmolLM2).
    ChatMl,
    /// `<start_of_turn>role … <end_of_turn>` (Gemma).
    Gemma,
    /// `<|start_header_id|>role<|end_header_id|> … <|eot_id|>` (Llama 3).
    Llama3,
}

/// Prompt formats of the supported model families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChatFormat {
    /// `<|im_start|>role\n…<|im_end|>\n` (Qwen2, SmolLM2). The optional
    /// default system prompt is the one the template inserts when none is given.
    ChatMl {
        default_system: Option<&'static str>,
    },
    /// Gemma: `<start_of_turn>user\n…<end_of_turn>\n`, system text folded
    /// into the first user turn, BOS first.
    Gemma,
    /// Llama 3: `<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>`.
    Llama3,
}

const QWEN_DEFAULT_SYSTEM: &str =
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
const SMOLLM_DEFAULT_SYSTEM: &str =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

impl ChatFormat {
    /// Pick the format from the chat template text, else from the architecture.
    pub fn detect(template: Option<&str>, architecture: Architecture) -> Option<Self> {
        if let Some(t) = template {
            if t.contains("<|im_start|>") {
                let default_system = if t.contains(QWEN_DEFAULT_SYSTEM) {
                    Some(QWEN_DEFAULT_SYSTEM)
                } else if t.contains(SMOLLM_DEFAULT_SYSTEM) {
                    Some(SMOLLM_DEFAULT_SYSTEM)
                } else {
                    None
                };
                return Some(ChatFormat::ChatMl { default_system });
            }
            if t.contains("<start_of_turn>") {
                return Some(ChatFormat::Gemma);
            }
            if t.contains("<|start_header_id|>") {
                return Some(ChatFormat::Llama3);
            }
        }
        Some(match architecture {
            Architecture::Qwen2 => ChatFormat::ChatMl {
                default_system: Some(QWEN_DEFAULT_SYSTEM),
            },
            Architecture::Gemma3 => ChatFormat::Gemma,
            Architecture::Llama => ChatFormat::Llama3,
        })
    }

    /// Which format family this is, for [`super::ModelInfo::chat_format`].
    pub fn kind(&self) -> PromptFormat {
        match self {
            ChatFormat::ChatMl { .. } => PromptFormat::ChatMl,
            ChatFormat::Gemma => PromptFormat::Gemma,
            ChatFormat::Llama3 => PromptFormat::Llama3,
        }
    }

    /// Special tokens the format needs in the vocabulary.
    pub fn required_specials(&self) -> &'static [&'static str] {
        match self {
            ChatFormat::ChatMl { .. } => &["<|im_start|>", "<|im_end|>"],
            ChatFormat::Gemma => &["<start_of_turn>", "<end_of_turn>"],
            ChatFormat::Llama3 => &["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
        }
    }

    /// Render `messages` followed by the opening of the assistant's turn.
    /// `bos` tells whether the model has a BOS token to start with
    /// (used by the formats whose templates begin with it).
    pub fn render(&self, messages: &[ChatMessage], bos: bool) -> Vec<Segment> {
        let mut out = Vec::new();
        match self {
            ChatFormat::ChatMl { default_system } => {
                if let (Some(sys), Some(first)) = (default_system, messages.first()) {
                    if first.role != Role::System {
                        push_chatml(&mut out, "system", sys);
                    }
                }
                for m in messages {
                    push_chatml(&mut out, m.role.as_str(), &m.content);
                }
                out.push(Segment::Special("<|im_start|>"));
                out.push(Segment::Text("assistant\n".into()));
            }
            ChatFormat::Gemma => {
                if bos {
                    out.push(Segment::Bos);
                }
                let mut pending_system: Option<&str> = None;
                for m in messages {
                    if m.role == Role::System {
                        pending_system = Some(&m.content);
                        continue;
                    }
                    let role = if m.role == Role::Assistant {
                        "model"
                    } else {
                        "user"
                    };
                    out.push(Segment::Special("<start_of_turn>"));
                    let mut text = format!("{role}\n");
                    if let Some(sys) = pending_system.take() {
                        text.push_str(sys);
                        text.push_str("\n\n");
                    }
                    text.push_str(m.content.trim());
                    out.push(Segment::Text(text));
                    out.push(Segment::Special("<end_of_turn>"));
                    out.push(Segment::Text("\n".into()));
                }
                out.push(Segment::Special("<start_of_turn>"));
                out.push(Segment::Text("model\n".into()));
            }
            ChatFormat::Llama3 => {
                if bos {
                    out.push(Segment::Bos);
                }
                for m in messages {
                    out.push(Segment::Special("<|start_header_id|>"));
                    out.push(Segment::Text(m.role.as_str().into()));
                    out.push(Segment::Special("<|end_header_id|>"));
                    out.push(Segment::Text(format!("\n\n{}", m.content.trim())));
                    out.push(Segment::Special("<|eot_id|>"));
                }
                out.push(Segment::Special("<|start_header_id|>"));
                out.push(Segment::Text("assistant".into()));
                out.push(Segment::Special("<|end_header_id|>"));
                out.push(Segment::Text("\n\n".into()));
            }
        }
        out
    }
}

fn push_chatml(out: &mut Vec<Segment>, role: &str, content: &str) {
    out.push(Segment::Special("<|im_start|>"));
    out.push(Segment::Text(format!("{role}\n{content}")));
    out.push(Segment::Special("<|im_end|>"));
    out.push(Segment::Text("\n".into()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_detected_and_default_system_inserted() {
        let t = "{{'<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>'}}";
        let f = ChatFormat::detect(Some(t), Architecture::Llama).unwrap();
        assert_eq!(
            f,
            ChatFormat::ChatMl {
                default_system: Some(SMOLLM_DEFAULT_SYSTEM)
            }
        );
        let segs = f.render(&[ChatMessage::user("Hi")], false);
        assert_eq!(
            segs[1],
            Segment::Text(format!("system\n{SMOLLM_DEFAULT_SYSTEM}"))
        );
        assert_eq!(segs[5], Segment::Text("user\nHi".into()));
        assert_eq!(segs.last(), Some(&Segment::Text("assistant\n".into())));
        // An explicit system message replaces the default one.
        let segs = f.render(&[ChatMessage::system("S"), ChatMessage::user("Hi")], false);
        assert_eq!(segs[1], Segment::Text("system\nS".into()));
    }

    #[test]
    fn gemma_folds_system_into_first_user_turn() {
        let f = ChatFormat::detect(Some("<start_of_turn>"), Architecture::Gemma3).unwrap();
        let segs = f.render(
            &[ChatMessage::system("Be brief."), ChatMessage::user("Hi")],
            true,
        );
        assert_eq!(segs[0], Segment::Bos);
        assert_eq!(segs[2], Segment::Text("user\nBe brief.\n\nHi".into()));
        assert_eq!(segs.last(), Some(&Segment::Text("model\n".into())));
    }

    #[test]
    fn fallback_by_architecture() {
        assert_eq!(
            ChatFormat::detect(None, Architecture::Gemma3),
            Some(ChatFormat::Gemma)
        );
    }
}
