//! Which output repair an attempt's answer gets (`repair`): decided per leg and target, by the
//! first attempt and by a mid-stream continuation alike.

use crate::origins::{Api, Leg};
use crate::policy::Target;
use crate::repair::{self, Pipeline};
use crate::settings::ThinkTags;

/// Output repair for this attempt, if any: tool-call repair for models that need it, think
/// splitting for thinking models, and always when translating (we are re-encoding anyway).
pub fn repair_for(leg: Leg, t: &Target) -> Option<Pipeline> {
    // A same-dialect Anthropic leg is never repaired: its bytes are the origin's. A translated
    // one is re-encoded anyway (Anthropic-compatible endpoints also serve DeepSeek or Kimi).
    let eligible = match leg.api {
        Api::OpenAiChat | Api::OllamaChat | Api::OllamaGenerate => true,
        Api::AnthropicMessages => leg.translate,
        Api::BedrockConverse => true,
        _ => false,
    };
    if !eligible {
        return None;
    }
    let p = repair::for_model(t.real);
    let think = match t.snap.settings.think_tags {
        ThinkTags::Always => true,
        ThinkTags::Never => false,
        ThinkTags::Auto => t.capabilities().iter().any(|c| c == "thinking"),
    };
    (leg.translate || p.repairs_tools() || think).then_some(p)
}
