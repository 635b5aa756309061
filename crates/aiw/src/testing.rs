//! Test support: a scripted OpenAI-compatible chat server on 127.0.0.1.
//!
//! The client ([`crate::client`]) and every track that drives it (AIW's runner, BigBIO's zero-shot
//! path) are tested against this one server instead of each test file carrying its own: one
//! connection per scripted reply, in order, `Connection: close`, request bodies recorded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A running scripted server. [`ChatServer::join`] waits until every scripted reply was served.
pub struct ChatServer {
    /// Base URL (`http://127.0.0.1:PORT/v1`), as `ClientConfig::base_url` takes it.
    pub url: String,
    seen: Arc<Mutex<Vec<String>>>,
    handle: JoinHandle<()>,
}

impl ChatServer {
    /// Serves `script`'s `(HTTP status, body)` pairs, one per connection, in order. Every request
    /// must be `POST /v1/chat/completions` (the server thread panics otherwise, failing `join`).
    pub fn start(script: Vec<(u16, String)>) -> ChatServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = format!(
            "http://{}/v1",
            listener.local_addr().expect("local address")
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        let handle = std::thread::spawn(move || {
            for (status, body) in script {
                let (stream, _) = listener.accept().expect("accept");
                let request = read_request(&stream);
                recorded.lock().unwrap().push(request);
                let mut stream = stream;
                write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .expect("write reply");
                stream.flush().expect("flush reply");
            }
        });
        ChatServer { url, seen, handle }
    }

    /// Serves each text as a successful chat completion (HTTP 200).
    pub fn replies<S: AsRef<str>>(texts: &[S]) -> ChatServer {
        ChatServer::start(
            texts
                .iter()
                .map(|t| (200, completion(t.as_ref())))
                .collect(),
        )
    }

    /// The request bodies received so far, in order.
    pub fn bodies(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// The request bodies parsed as JSON.
    pub fn json_bodies(&self) -> Vec<serde_json::Value> {
        self.bodies()
            .iter()
            .map(|b| serde_json::from_str(b).expect("request body is JSON"))
            .collect()
    }

    /// Waits for the server thread (all replies served); re-raises its panic.
    pub fn join(self) -> Vec<String> {
        if let Err(panic) = self.handle.join() {
            std::panic::resume_unwind(panic);
        }
        let seen = self.seen.lock().unwrap().clone();
        seen
    }
}

/// A chat-completion response body whose single choice says `text`.
pub fn completion(text: &str) -> String {
    serde_json::json!({"choices": [{"message": {"role": "assistant", "content": text}}]})
        .to_string()
}

/// Reads one request and returns its body (headers up to the blank line, then Content-Length bytes).
fn read_request(stream: &std::net::TcpStream) -> String {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut first = String::new();
    reader.read_line(&mut first).expect("request line");
    assert!(first.starts_with("POST /v1/chat/completions"), "{first}");
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header line");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().expect("Content-Length");
        }
    }
    let mut buf = vec![0u8; len];
    reader.read_exact(&mut buf).expect("request body");
    String::from_utf8(buf).expect("request body is UTF-8")
}
