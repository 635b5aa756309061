//! ICL task JSONL (every task type, with and without categories) and the eval YAML registry.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lmrepro_eval::tasks::{Registry, TaskType};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let task_type = match selector % 4 {
        0 => TaskType::MultipleChoice,
        1 => TaskType::Schema,
        2 => TaskType::LanguageModeling,
        _ => TaskType::GenerationTaskWithAnswers,
    };
    let has_categories = selector & 4 != 0;
    if let Err(e) =
        lmrepro_eval::data::parse_task_text(text, Path::new("t.jsonl"), task_type, has_categories)
    {
        let msg = format!("{e:#}");
        assert!(
            msg.contains("t.jsonl"),
            "error without the file name: {msg}"
        );
    }
    if selector & 8 != 0 {
        let _ = Registry::parse(text);
    }
});
