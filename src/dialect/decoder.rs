//! The origin-side stream decoders, one per upstream API family, as one enum (what
//! `stream::transcode` and mid-stream recovery hold). Names each dialect's `stream.rs` directly,
//! so the relay depends on the decoders only, not on the dialect table in `mod.rs`.

use super::ir::Chunk;
use crate::origins::Api;
use crate::stream::transform::Framing;

/// The stream decoder for an origin API: what `stream::transcode` turns into `Chunk`s.
pub enum Decoder {
    OpenAi(super::openai::stream::StreamDecoder),
    Ollama(super::ollama::stream::StreamDecoder),
    Anthropic(super::anthropic::stream::StreamDecoder),
    /// ConverseStream: raw event-stream bytes, framed by the decoder itself.
    Bedrock(super::bedrock::stream::StreamDecoder),
}

impl Decoder {
    pub fn for_api(api: Api) -> Decoder {
        match api {
            Api::OllamaChat | Api::OllamaGenerate => Decoder::Ollama(super::ollama::stream::StreamDecoder::new()),
            Api::AnthropicMessages => Decoder::Anthropic(super::anthropic::stream::StreamDecoder::new()),
            Api::BedrockConverse => Decoder::Bedrock(super::bedrock::stream::StreamDecoder::new()),
            _ => Decoder::OpenAi(super::openai::stream::StreamDecoder::new()),
        }
    }

    /// One frame (SSE `data:` payload or NDJSON line); `Err` carries the origin's error.
    pub fn frame(&mut self, payload: &[u8], out: &mut Vec<Chunk>) -> Result<(), String> {
        match self {
            Decoder::OpenAi(d) => d.frame(payload, out),
            Decoder::Ollama(d) => d.frame(payload, out),
            Decoder::Anthropic(d) => d.frame(payload, out),
            Decoder::Bedrock(d) => d.frame(payload, out),
        }
    }

    /// A frame that is the origin's success terminator and carries nothing else (`[DONE]`).
    pub fn is_terminator(&self, payload: &[u8]) -> bool {
        matches!(self, Decoder::OpenAi(_)) && payload == b"[DONE]"
    }

    /// The answer is complete with the frame that carried its finish (Ollama's last line holds
    /// both the finish and the counts).
    pub fn complete_at_finish(&self) -> bool {
        matches!(self, Decoder::Ollama(_))
    }

    /// The origin sent its own terminator event (Anthropic's `message_stop`, Bedrock's
    /// `metadata`; both after the finish and the counts).
    pub fn done(&self) -> bool {
        match self {
            Decoder::Anthropic(d) => d.done(),
            Decoder::Bedrock(d) => d.done(),
            _ => false,
        }
    }

    pub fn framing(&self) -> Framing {
        match self {
            Decoder::Ollama(_) => Framing::Lines,
            Decoder::Bedrock(_) => Framing::Raw,
            _ => Framing::SseData,
        }
    }
}
