//! Progress bars on stderr (indicatif hides them when stderr is not a terminal), one style for
//! every stage so a long run reads the same everywhere.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar counting items: `what [=====>   ] 12/40 [00:00:03<00:00:07] msg` (the message is free
/// for live figures such as a loss).
pub fn bar(len: u64, what: &str) -> ProgressBar {
    styled(
        Some(len),
        what,
        "{prefix} {wide_bar} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
    )
}

/// [`bar`] when `show`, else a hidden bar (for callers with a `--progress`-like switch).
pub fn bar_if(show: bool, len: u64, what: &str) -> ProgressBar {
    if show {
        bar(len, what)
    } else {
        ProgressBar::hidden()
    }
}

/// A counter without a known total.
pub fn spinner(what: &str) -> ProgressBar {
    styled(
        None,
        what,
        "{spinner} {prefix} {pos} [{elapsed_precise}] {msg}",
    )
}

fn styled(len: Option<u64>, what: &str, template: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    pb.set_style(ProgressStyle::with_template(template).expect("valid template"));
    pb.set_prefix(what.to_string());
    pb
}
