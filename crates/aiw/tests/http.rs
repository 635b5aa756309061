//! The OpenAI-compatible client and the resumable runner against a local HTTP server.

use lmrepro_aiw::client::{ClientConfig, OpenAiClient};
use lmrepro_aiw::prompts::PromptSet;
use lmrepro_aiw::runner::{run, RunConfig};
use lmrepro_aiw::score::Comparison;
use lmrepro_aiw::testing::{completion, ChatServer};
use lmrepro_lm::GenerationParams;
use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

fn client(url: &str) -> OpenAiClient {
    OpenAiClient::new(ClientConfig {
        base_url: url.to_string(),
        api_key: Some("test-key".into()),
        model: "m1".into(),
        timeout: Duration::from_secs(10),
        max_retries: 2,
        backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        min_interval: Duration::ZERO,
    })
}

#[test]
fn success() {
    let srv = ChatServer::start(vec![(200, completion("### Answer: 7"))]);
    let mut c = client(&srv.url);
    let params = GenerationParams {
        temperature: 0.7,
        seed: 3,
        ..Default::default()
    };
    assert_eq!(c.chat("Alice?", &params).unwrap(), "### Answer: 7");
    let body: serde_json::Value = serde_json::from_str(&srv.join()[0]).unwrap();
    assert_eq!(body["model"], "m1");
    assert_eq!(body["messages"][0]["content"], "Alice?");
    assert_eq!(body["seed"], 3);
}

#[test]
fn server_error_is_retried() {
    let srv = ChatServer::start(vec![
        (500, "{\"error\":\"boom\"}".into()),
        (200, completion("ok")),
    ]);
    let mut c = client(&srv.url);
    assert_eq!(c.chat("x", &GenerationParams::default()).unwrap(), "ok");
    assert_eq!(c.requests_sent, 2);
    srv.join();
}

#[test]
fn rate_limited_until_retries_run_out() {
    let script = (0..3).map(|_| (429, "{}".to_string())).collect();
    let srv = ChatServer::start(script);
    let mut c = client(&srv.url);
    let msg = format!(
        "{:#}",
        c.chat("x", &GenerationParams::default()).unwrap_err()
    );
    assert!(
        msg.contains("HTTP 429") && msg.contains("giving up after 3 attempts"),
        "{msg}"
    );
    srv.join();
}

#[test]
fn client_error_is_not_retried() {
    let srv = ChatServer::start(vec![(401, "{\"error\":\"bad key\"}".into())]);
    let mut c = client(&srv.url);
    let msg = format!(
        "{:#}",
        c.chat("x", &GenerationParams::default()).unwrap_err()
    );
    assert!(
        msg.contains("HTTP 401") && msg.contains("not retried") && msg.contains("bad key"),
        "{msg}"
    );
    assert_eq!(c.requests_sent, 1);
    srv.join();
}

#[test]
fn malformed_body_is_a_clear_error() {
    let srv = ChatServer::start(vec![(200, "<html>gateway</html>".into())]);
    let mut c = client(&srv.url);
    let msg = format!(
        "{:#}",
        c.chat("x", &GenerationParams::default()).unwrap_err()
    );
    assert!(
        msg.contains("malformed chat completion")
            && msg.contains(&srv.url)
            && msg.contains("gateway"),
        "{msg}"
    );
    srv.join();
}

fn prompts() -> PromptSet {
    PromptSet::load(&lmrepro_data::testing::input("aiw", "aiw/prompts.json")).unwrap()
}

#[test]
fn resume_skips_answered_trials() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs/r.jsonl");
    let cfg = |trials| RunConfig {
        prompt_ids: vec![55],
        trials,
        params: GenerationParams {
            temperature: 1.0,
            seed: 10,
            ..Default::default()
        },
        out: out.clone(),
        comparison: Comparison::Numeric,
        progress: false,
    };
    let p = prompts();
    let srv = ChatServer::start(vec![
        (200, completion("### Answer: 7")),
        (200, completion("She has 3 sisters.")),
    ]);
    let s = run(&mut client(&srv.url), &p, &cfg(2)).unwrap();
    let bodies = srv.join();
    assert_eq!((s.generated, s.correct, s.skipped), (2, 1, 0));
    let seeds: Vec<u64> = bodies
        .iter()
        .map(|b| {
            serde_json::from_str::<serde_json::Value>(b).unwrap()["seed"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seeds, vec![10, 11]);

    // A second run with 3 trials only asks for trial 2.
    let srv = ChatServer::start(vec![(200, completion("Answer: 7"))]);
    let s = run(&mut client(&srv.url), &p, &cfg(3)).unwrap();
    assert_eq!(srv.join().len(), 1);
    assert_eq!((s.generated, s.skipped), (1, 2));
    let recs = lmrepro_aiw::records::read_responses(&out).unwrap();
    let trials: Vec<i64> = recs.iter().map(|r| r.trial).collect();
    assert_eq!(trials, vec![0, 1, 2]);
    assert!(recs
        .iter()
        .all(|r| r.prompt_id == Some(55) && r.model == "openai:m1"));
    assert_eq!(recs.iter().filter(|r| r.correct).count(), 2);

    // A corrupted output file is reported with its line, before any request is made.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&out)
        .unwrap()
        .write_all(b"{not json\n")
        .unwrap();
    let msg = format!(
        "{:#}",
        run(&mut client("http://127.0.0.1:9/v1"), &p, &cfg(4)).unwrap_err()
    );
    assert!(msg.contains("r.jsonl") && msg.contains("line 4"), "{msg}");
}

#[test]
fn rate_limit_spaces_requests() {
    let srv = ChatServer::start(vec![(200, completion("a")), (200, completion("b"))]);
    let mut c = client(&srv.url);
    c.config.min_interval = Duration::from_millis(150);
    let t0 = std::time::Instant::now();
    c.chat("x", &GenerationParams::default()).unwrap();
    c.chat("y", &GenerationParams::default()).unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(150));
    srv.join();
}

#[test]
fn timeout_is_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        // Accept and never answer.
        let (_s, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_millis(1500));
    });
    let mut c = client(&url);
    c.config.timeout = Duration::from_millis(200);
    c.config.max_retries = 0;
    c = OpenAiClient::new(c.config.clone());
    let t0 = std::time::Instant::now();
    let msg = format!(
        "{:#}",
        c.chat("x", &GenerationParams::default()).unwrap_err()
    );
    assert!(t0.elapsed() < Duration::from_millis(1400), "{msg}");
    assert!(
        msg.contains("failed") && msg.contains("giving up after 1 attempts"),
        "{msg}"
    );
    h.join().unwrap();
}
