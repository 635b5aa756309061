//! One timed process: pinned to CPUs with `taskset -c`, reaped with `wait4` so the kernel's
//! rusage gives user/sys CPU seconds and peak RSS of the whole process (children included, as
//! `/usr/bin/time` reports them), plus the machine and its load average around the run.

use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// What the kernel says a finished process cost.
#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    pub user_s: f64,
    pub sys_s: f64,
    pub cpu_s: f64,
    pub wall_s: f64,
    pub peak_rss_kb: u64,
    pub load_before: [f64; 3],
    pub load_after: [f64; 3],
}

/// The machine, as recorded with every measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Machine {
            cpu: cpu_model(&cpuinfo).unwrap_or_else(|| std::env::consts::ARCH.to_string()),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// A file-name-safe name: `amd-epyc-7b13-2c`.
    pub fn slug(&self) -> String {
        let mut s = String::new();
        // The clock after `@` says nothing about the CPU model.
        let model = self.cpu.split('@').next().unwrap_or("");
        for c in model.chars() {
            if c.is_ascii_alphanumeric() {
                s.push(c.to_ascii_lowercase());
            } else if !s.ends_with('-') && !s.is_empty() {
                s.push('-');
            }
        }
        // Drop the frequency and noise words that make names long without telling CPUs apart.
        let words: Vec<&str> = s
            .split('-')
            .filter(|w| {
                !w.is_empty() && !matches!(*w, "processor" | "cpu" | "core" | "tm" | "r" | "with")
            })
            .collect();
        format!("{}-{}c", words.join("-"), self.cores)
    }
}

/// `model name` of the first processor in `/proc/cpuinfo`.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == "model name").then(|| v.trim().to_string())
    })
}

/// The three load averages of `/proc/loadavg` (zeros where it cannot be read).
pub fn load_average() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    parse_loadavg(&text).unwrap_or([0.0; 3])
}

pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(|w| w.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// Runs `cmd` pinned to `cpus` (a `taskset -c` list such as `0` or `0,1`), stdout to `stdout`,
/// stderr to `stderr`; fails naming the command and its log when it exits non-zero.
pub fn timed(
    cpus: &str,
    program: &Path,
    args: &[String],
    envs: &[(String, String)],
    stdout: &Path,
    stderr: &Path,
) -> Result<Cost> {
    let mut cmd = Command::new("taskset");
    cmd.arg("-c").arg(cpus).arg(program).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(stdout)?)
        .stderr(std::fs::File::create(stderr)?);
    let load_before = load_average();
    let started = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("starting `taskset -c {cpus} {}`", program.display()))?;
    let pid = child.id() as libc::pid_t;
    // `wait4` reaps the child itself, so `child` must not be waited on again: forget it.
    std::mem::forget(child);
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid out-parameter; `pid` is our own unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let got = loop {
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break r;
    };
    let wall_s = started.elapsed().as_secs_f64();
    let load_after = load_average();
    if got != pid {
        bail!(
            "wait4 on `{}` failed: {}",
            program.display(),
            std::io::Error::last_os_error()
        );
    }
    let exited_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !exited_ok {
        let tail = std::fs::read_to_string(stderr).unwrap_or_default();
        let tail: Vec<&str> = tail.lines().rev().take(15).collect();
        bail!(
            "`{} {}` failed (wait status {status}); stderr {}:\n{}",
            program.display(),
            args.join(" "),
            stderr.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let (user_s, sys_s) = (secs(usage.ru_utime), secs(usage.ru_stime));
    Ok(Cost {
        user_s,
        sys_s,
        cpu_s: user_s + sys_s,
        wall_s,
        // Linux reports ru_maxrss in KiB.
        peak_rss_kb: usage.ru_maxrss.max(0) as u64,
        load_before,
        load_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loadavg_parses_and_rejects_garbage() {
        assert_eq!(
            parse_loadavg("4.12 3.50 2.01 3/612 12345\n"),
            Some([4.12, 3.5, 2.01])
        );
        assert_eq!(parse_loadavg("4.12 x 2.01"), None);
        assert_eq!(parse_loadavg(""), None);
    }

    proptest::proptest! {
        #[test]
        fn loadavg_round_trips(a in 0.0f64..1000.0, b in 0.0f64..1000.0, c in 0.0f64..1000.0, tail in "[ 0-9/]{0,12}") {
            let text = format!("{a:.2} {b:.2} {c:.2} {tail}");
            let got = parse_loadavg(&text).unwrap();
            for (g, want) in got.iter().zip([a, b, c]) {
                proptest::prop_assert!((g - want).abs() <= 0.005 + 1e-9);
            }
        }

        #[test]
        fn loadavg_never_panics(text in "\\PC{0,40}") {
            let _ = parse_loadavg(&text);
        }

        #[test]
        fn slug_is_a_file_name(cpu in "\\PC{0,60}", cores in 1usize..512) {
            let s = Machine { cpu, cores }.slug();
            let suffix = format!("{}c", cores);
            proptest::prop_assert!(s.ends_with(&suffix));
            proptest::prop_assert!(s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        }
    }

    #[test]
    fn cpu_model_and_slug() {
        let info = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13 64-Core Processor\n";
        let m = Machine {
            cpu: cpu_model(info).unwrap(),
            cores: 2,
        };
        assert_eq!(m.cpu, "AMD EPYC 7B13 64-Core Processor");
        assert_eq!(m.slug(), "amd-epyc-7b13-64-2c");
        let intel = Machine {
            cpu: "Intel(R) Xeon(R) CPU @ 2.20GHz".into(),
            cores: 16,
        };
        assert_eq!(intel.slug(), "intel-xeon-16c");
    }

    #[test]
    fn timed_measures_a_busy_child_and_reports_failures() {
        let dir = std::env::temp_dir().join(format!("xtask-measure-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (out, err) = (dir.join("out"), dir.join("err"));
        let sh = Path::new("/bin/sh");
        let busy = [
            "-c".to_string(),
            "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo done".into(),
        ];
        let cost = timed("0", sh, &busy, &[], &out, &err).unwrap();
        assert!(cost.cpu_s > 0.0 && cost.wall_s > 0.0 && cost.peak_rss_kb > 0);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "done\n");
        let fail = ["-c".to_string(), "echo broken >&2; exit 3".into()];
        let e = timed("0", sh, &fail, &[], &out, &err)
            .unwrap_err()
            .to_string();
        assert!(e.contains("broken") && e.contains("/bin/sh"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
