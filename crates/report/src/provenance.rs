use lmrepro_data::{Input, Recipe, Resolver};
use serde::Serialize;
use std::process::Command;

/// What produced a results folder. Deliberately has no timestamp: the same commit, recipe and
/// inputs must give the same bytes.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    pub recipe: String,
    pub recipe_file: String,
    pub recipe_sha256: String,
    pub tool: String,
    pub tool_version: String,
    /// `git describe`-style commit of the checkout (`<sha>` or `<sha>-dirty`), `unknown` outside git.
    pub git_commit: String,
    pub command: String,
    pub inputs: Vec<ProvenanceInput>,
    /// Inputs the recipe lists as optional that could not be resolved.
    pub missing_optional_inputs: Vec<String>,
    /// Files written, sorted.
    pub outputs: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProvenanceInput {
    pub name: String,
    pub url: String,
    pub sha256: String,
    pub size: u64,
    pub license: String,
}

impl Provenance {
    /// Records every input of `recipe`; optional inputs that do not resolve are listed as missing.
    pub fn new(recipe: &Recipe, resolver: &Resolver, command: &str, outputs: Vec<String>) -> Self {
        let mut inputs = Vec::new();
        let mut missing = Vec::new();
        for input in &recipe.inputs {
            if input.optional && resolver.path(input).is_err() {
                missing.push(input.name.clone());
                continue;
            }
            inputs.push(ProvenanceInput::from(input));
        }
        let mut outputs = outputs;
        outputs.sort();
        let root = lmrepro_data::workspace_root();
        let recipe_file = recipe
            .path
            .strip_prefix(&root)
            .unwrap_or(&recipe.path)
            .display()
            .to_string();
        Provenance {
            recipe: recipe.name.clone(),
            recipe_file,
            recipe_sha256: recipe.sha256.clone(),
            tool: "lmrepro".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: git_commit(),
            command: command.into(),
            inputs,
            missing_optional_inputs: missing,
            outputs,
        }
    }
}

impl From<&Input> for ProvenanceInput {
    fn from(i: &Input) -> Self {
        ProvenanceInput {
            name: i.name.clone(),
            url: i.url.clone(),
            sha256: i.pin().trim_start_matches("sha256 ").to_string(),
            size: i.size,
            license: i.license.clone(),
        }
    }
}

/// The checkout's HEAD commit, with `-dirty` when tracked files differ from it.
pub fn git_commit() -> String {
    let root = lmrepro_data::workspace_root();
    let head = Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let Some(head) = head else {
        return "unknown".into();
    };
    // Only the code matters for provenance: results/ itself changing must not make it dirty.
    let dirty = Command::new("git")
        .arg("-C")
        .arg(&root)
        .args([
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":!results",
        ])
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    if dirty {
        format!("{head}-dirty")
    } else {
        head
    }
}
