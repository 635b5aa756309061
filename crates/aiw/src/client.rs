//! OpenAI-compatible chat-completions client (`POST {base}/chat/completions`).
//!
//! Configuration from the environment: `AIW_API_BASE` (else `OPENAI_BASE_URL`, else
//! `https://api.openai.com/v1`) and `AIW_API_KEY` (else `OPENAI_API_KEY`; optional for local
//! servers). Retries with exponential backoff on HTTP 429 and 5xx and on transport errors
//! (honouring `Retry-After` seconds), a per-request timeout, and a minimum interval between
//! requests (rate limit).

use anyhow::{anyhow, bail, Context, Result};
use lmrepro_lm::{truncate_at_stop, GenerationParams, TextGenerator};
use std::time::{Duration, Instant};

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: String,
    pub api_key: Option<String>,
    pub model: String,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff; doubles each retry.
    pub backoff: Duration,
    /// Upper bound of one backoff wait.
    pub max_backoff: Duration,
    /// Minimum time between the starts of two requests (0 = no limit).
    pub min_interval: Duration,
}

impl ClientConfig {
    /// Defaults plus base URL and key from the environment.
    pub fn from_env(model: &str) -> ClientConfig {
        let var = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
        };
        ClientConfig {
            base_url: var(&["AIW_API_BASE", "OPENAI_BASE_URL"])
                .unwrap_or_else(|| "https://api.openai.com/v1".into()),
            api_key: var(&["AIW_API_KEY", "OPENAI_API_KEY"]),
            model: model.to_string(),
            timeout: Duration::from_secs(120),
            max_retries: 5,
            backoff: Duration::from_millis(1000),
            max_backoff: Duration::from_secs(60),
            min_interval: Duration::ZERO,
        }
    }
}

/// A chat model behind an OpenAI-compatible endpoint.
#[derive(Debug)]
pub struct OpenAiClient {
    pub config: ClientConfig,
    agent: ureq::Agent,
    last_start: Option<Instant>,
    /// Requests sent, retries included (for reports and tests).
    pub requests_sent: u64,
}

impl OpenAiClient {
    pub fn new(config: ClientConfig) -> OpenAiClient {
        let agent = ureq::AgentBuilder::new().timeout(config.timeout).build();
        OpenAiClient {
            config,
            agent,
            last_start: None,
            requests_sent: 0,
        }
    }

    fn url(&self) -> String {
        format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        )
    }

    fn wait_for_rate_limit(&mut self) {
        if let Some(last) = self.last_start {
            let since = last.elapsed();
            if since < self.config.min_interval {
                std::thread::sleep(self.config.min_interval - since);
            }
        }
        self.last_start = Some(Instant::now());
    }

    /// One user message → the assistant's reply text.
    pub fn chat(&mut self, prompt: &str, params: &GenerationParams) -> Result<String> {
        let mut body = serde_json::json!({
            "model": self.config.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": params.temperature,
            "max_tokens": params.max_new_tokens,
        });
        // Greedy decoding needs no seed; sampled runs pass it (honoured by servers that support it).
        if params.temperature > 0.0 {
            body["seed"] = serde_json::json!(params.seed);
        }
        if !params.stop.is_empty() {
            body["stop"] = serde_json::json!(params.stop);
        }
        let url = self.url();
        let mut attempt = 0u32;
        loop {
            self.wait_for_rate_limit();
            self.requests_sent += 1;
            let mut req = self
                .agent
                .post(&url)
                .set("Content-Type", "application/json");
            if let Some(key) = &self.config.api_key {
                req = req.set("Authorization", &format!("Bearer {key}"));
            }
            let retry_after;
            let failure = match req.send_json(body.clone()) {
                Ok(resp) => {
                    let text = resp
                        .into_string()
                        .with_context(|| format!("reading the response body of {url}"))?;
                    let content = extract_content(&text).with_context(|| {
                        format!("malformed chat completion from {url}: {}", excerpt(&text))
                    })?;
                    return Ok(truncate_at_stop(&content, &params.stop).to_string());
                }
                Err(ureq::Error::Status(code, resp)) => {
                    retry_after = resp
                        .header("Retry-After")
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .map(Duration::from_secs_f64);
                    let body = resp.into_string().unwrap_or_default();
                    let msg = format!("HTTP {code} from {url}: {}", excerpt(&body));
                    if code != 429 && !(500..600).contains(&code) {
                        bail!("{msg} (not retried)");
                    }
                    msg
                }
                Err(ureq::Error::Transport(t)) => {
                    retry_after = None;
                    format!("request to {url} failed: {t}")
                }
            };
            if attempt >= self.config.max_retries {
                bail!("{failure}; giving up after {} attempts", attempt + 1);
            }
            let backoff = self
                .config
                .backoff
                .saturating_mul(1u32 << attempt.min(20))
                .min(self.config.max_backoff);
            std::thread::sleep(retry_after.map_or(backoff, |r| r.min(self.config.max_backoff)));
            attempt += 1;
        }
    }
}

/// `choices[0].message.content` of a chat completion body.
pub fn extract_content(body: &str) -> Result<String> {
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|e| anyhow!("body is not JSON ({e})"))?;
    if let Some(err) = v.get("error") {
        bail!("server returned an error object: {err}");
    }
    v.pointer("/choices/0/message/content")
        .and_then(|c| c.as_str())
        .map(str::to_string)
        .ok_or_else(|| anyhow!("no string at choices[0].message.content"))
}

fn excerpt(s: &str) -> String {
    let t: String = s.chars().take(300).collect();
    if t.len() < s.len() {
        format!("{t}…")
    } else {
        t
    }
}

impl TextGenerator for OpenAiClient {
    fn name(&self) -> String {
        format!("openai:{}", self.config.model)
    }

    fn generate(&mut self, prompts: &[String], params: &GenerationParams) -> Result<Vec<String>> {
        prompts.iter().map(|p| self.chat(p, params)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_extraction() {
        let ok =
            r####"{"choices":[{"message":{"role":"assistant","content":"### Answer: 7"}}]}"####;
        assert_eq!(extract_content(ok).unwrap(), "### Answer: 7");
        assert!(extract_content("<html>")
            .unwrap_err()
            .to_string()
            .contains("not JSON"));
        assert!(extract_content(r#"{"choices":[]}"#).is_err());
        assert!(extract_content(r#"{"error":{"message":"bad key"}}"#)
            .unwrap_err()
            .to_string()
            .contains("bad key"));
    }
}
