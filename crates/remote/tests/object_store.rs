//! Stage folders through an object store (feature `s3`), against a local
//! S3-compatible server the test starts itself: `moto_server` (pinned `moto[server]` in
//! python/requirements-s3.txt, installed into .venv-ray/ by `cargo xtask ray-setup`) on
//! 127.0.0.1 at a free port. A folder put and fetched back is byte-identical; an unfinished or
//! missing folder is refused with its URL named; hidden files stay local.
//!
//! Without the server the test prints a `skip:` line (a failure under `LMREPRO_REQUIRE_ALL=1`).
#![cfg(feature = "s3")]

use lmrepro_remote::Remote;
use lmrepro_stage::testing::tree;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn moto_server() -> Result<PathBuf, String> {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-ray/bin/moto_server");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "skip: {} not found (run `cargo xtask ray-setup`); object store not tested",
            bin.display()
        ))
    }
}

/// The server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.0 request to the server; its status line.
fn request(port: u16, method: &str, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out.lines().next().unwrap_or_default().to_string())
}

fn start(bin: &Path) -> (Server, u16) {
    // A free port on the loopback address (released just before the server binds it).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let started = Instant::now();
    while request(port, "GET", "/").is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "moto_server did not answer on 127.0.0.1:{port} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, port)
}

#[test]
fn stage_folders_round_trip_through_a_local_s3_server() {
    let bin = match moto_server() {
        Ok(b) => b,
        Err(why) => {
            if std::env::var_os("LMREPRO_REQUIRE_ALL").is_some_and(|v| v == "1") {
                panic!("{why} (LMREPRO_REQUIRE_ALL=1)");
            }
            eprintln!("{why}");
            return;
        }
    };
    let (_server, port) = start(&bin);
    // moto accepts any credentials; the bucket is made with a plain PUT.
    let status = request(port, "PUT", "/stages").unwrap();
    assert!(status.contains(" 200"), "creating the bucket: {status}");
    std::env::set_var("AWS_ENDPOINT", format!("http://127.0.0.1:{port}"));
    std::env::set_var("AWS_ALLOW_HTTP", "true");
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    std::env::set_var("AWS_REGION", "us-east-1");

    let tmp = tempfile::tempdir().unwrap();
    // A finished stage folder: nested shard outputs, markers, a hidden lock, its marker.
    let local = tmp.path().join("dedup-bff-0123");
    lmrepro_stage::build_folder(&local, |dir| {
        let docs = dir.join("docs");
        std::fs::create_dir_all(docs.join("_done")).unwrap();
        std::fs::write(
            docs.join("a.jsonl.zst"),
            b"\x28\xb5\x2f\xfd binary \x00\xff",
        )
        .unwrap();
        std::fs::write(docs.join("_done/a"), "{\"docs\": 3}\n").unwrap();
        std::fs::write(docs.join("b c.jsonl"), "{\"text\":\"\u{e9}t\u{e9}\"}\n").unwrap();
        std::fs::write(docs.join(".lock"), "").unwrap();
        Ok(serde_json::json!({"docs_out": 3}))
    })
    .unwrap();

    let remote = Remote::open("s3://stages/run-1/").unwrap();
    assert!(!remote.is_finished("dedup-bff-0123").unwrap());
    let err = format!(
        "{:#}",
        remote
            .get_folder("dedup-bff-0123", &tmp.path().join("x"))
            .unwrap_err()
    );
    assert!(
        err.contains("s3://stages/run-1/dedup-bff-0123") && err.contains("not a finished"),
        "{err}"
    );
    // Only finished folders are published.
    let unfinished = tmp.path().join("half");
    std::fs::create_dir_all(&unfinished).unwrap();
    let err = format!("{:#}", remote.put_folder(&unfinished, "half").unwrap_err());
    assert!(
        err.contains("half") && err.contains("not a finished"),
        "{err}"
    );

    let mut a = tree(&local);
    a.retain(|k, _| !k.rsplit('/').next().unwrap().starts_with('.'));
    assert_eq!(
        remote.put_folder(&local, "dedup-bff-0123").unwrap(),
        a.len()
    );
    assert!(remote.is_finished("dedup-bff-0123").unwrap());
    let back = tmp.path().join("fetched/dedup-bff-0123");
    std::fs::create_dir_all(back.parent().unwrap()).unwrap();
    assert_eq!(remote.get_folder("dedup-bff-0123", &back).unwrap(), a.len());
    let b = tree(&back);
    assert_eq!(a, b, "the fetched folder differs from the one put");
    assert!(b.contains_key("docs/_done/a") && b.contains_key("docs/b c.jsonl"));
    assert!(!back.with_file_name("dedup-bff-0123.partial").exists());
    assert_eq!(
        lmrepro_stage::read_done::<serde_json::Value>(&back).unwrap(),
        Some(serde_json::json!({"docs_out": 3}))
    );

    // Objects without their marker (an upload cut off before it, or retracted): not finished,
    // and not fetched.
    remote.retract("dedup-bff-0123").unwrap();
    assert!(!remote.is_finished("dedup-bff-0123").unwrap());
    assert!(remote
        .get_folder("dedup-bff-0123", &tmp.path().join("y"))
        .is_err());
    assert!(!tmp.path().join("y").exists() && !tmp.path().join("y.partial").exists());
}
